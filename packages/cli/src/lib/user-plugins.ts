/**
 * The user plugin list oclif reads at start-up: plugins installed with `tw plugins install` are
 * listed in <data dir>/package.json, which oclif's plugin loader (@oclif/core, PluginLoader
 * .loadUserPlugins) reads on every run and, when that fails with anything but ENOENT, reports
 * with process.emitWarning: a stack-less "(node:…) [EACCES] Error: EACCES: permission denied"
 * ahead of tw's own output, e.g. for a user whose HOME is /root (sudo keeping HOME, setpriv).
 * tw checks the file first and, when it may not read it, starts without user plugins (there
 * are none it could load) and says nothing.
 */
import { accessSync, constants } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * oclif's data directory for tw (Config.dataDir): $TW_DATA_DIR, else $XDG_DATA_HOME/tracewatch,
 * else $HOME/.local/share/tracewatch ("tracewatch" is oclif.dirname in the cli's package.json).
 */
export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['TW_DATA_DIR']) return env['TW_DATA_DIR'];
  const home = env['HOME'] || homedir() || tmpdir();
  return join(env['XDG_DATA_HOME'] || join(home, '.local/share'), 'tracewatch');
}

/** False when the user plugin list exists or may exist but this user may not read it. */
export function userPluginsReadable(dataDir: string = userDataDir()): boolean {
  try {
    accessSync(join(dataDir, 'package.json'), constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code !== 'EACCES' && code !== 'EPERM';
  }
  return true;
}

/** The options bin/run.js starts oclif with: without user plugins when their list is unreadable. */
export function loadOptions(binUrl: string): { root: string; userPlugins?: false } {
  const root = fileURLToPath(binUrl);
  return userPluginsReadable() ? { root } : { root, userPlugins: false };
}
