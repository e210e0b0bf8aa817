import { createInterface } from 'node:readline/promises';
import { Args, Flags } from '@oclif/core';
import { TwCommand } from '../../lib/base.js';
import { installPlugin } from '../../lib/plugin-install.js';

// This command has the id of @oclif/plugin-plugins' own `plugins install`; oclif runs the root
// plugin's (tw's) when two core plugins share a command id (determinePriority: the root plugin is
// not in oclif.plugins, so it sorts first). `tw plugins link|uninstall` stay oclif's.
export default class PluginsInstall extends TwCommand {
  static override aliases = ['plugins:add'];
  static override summary = 'Install a plugin (an npm package that provides watches), after showing what it is and asking.';
  static override description = `PLUGIN is what npm install takes: a registry name (my-plugin, my-plugin@1.2.0, @scope/plugin@latest), a local directory (./my-plugin), a tarball (./my-plugin-1.0.0.tgz, from npm pack) or a git URL (git+https://…, git+ssh://…, github:user/repo, https://….git). A path is always a path, never a GitHub user/repo.
Before installing anything tw fetches the package without running any of its code and shows its name, version, description, author, license, dependencies and install scripts (preinstall, install, postinstall, prepare, a binding.gyp's node-gyp build), then asks "Install? [y/N]". --yes skips the question; with no terminal to ask on and no --yes, nothing is installed (exit code 10). Install scripts, the package's and its dependencies', run only with --allow-scripts. A package whose package.json has neither a "tw" nor an "oclif" key is not a tw plugin and is not installed (exit code 11, as for a failed install).
Plugins go to tw's data directory ($TW_DATA_DIR, else $XDG_DATA_HOME/tracewatch, else ~/.local/share/tracewatch); "tw plugins" lists them and "tw plugins uninstall NAME" removes one. A watch whose name another plugin's watch has stays reachable as <plugin>:<watch> (see: tw watches).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> ./my-plugin',
    '<%= config.bin %> <%= command.id %> ./my-plugin-1.0.0.tgz --yes',
    '<%= config.bin %> <%= command.id %> my-plugin@1.2.0',
    '<%= config.bin %> <%= command.id %> git+https://example.com/me/my-plugin.git --allow-scripts',
  ];
  static override args = {
    plugin: Args.string({ description: 'the package: a registry name[@version], a directory, a .tgz/.tar.gz, or a git URL', required: true }),
  };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'install without asking' }),
    'allow-scripts': Flags.boolean({ description: "let npm run the package's (and its dependencies') install scripts" }),
  };
  static override enableJsonFlag = true;

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(PluginsInstall);
    // the summary is the command's output: on stdout, or on stderr under --json (stdout is the JSON)
    const log = this.jsonEnabled() ? (l: string) => process.stderr.write(`${l}\n`) : (l: string) => this.log(l);
    const ask = process.stdin.isTTY ? askOnTerminal : undefined;
    return installPlugin(this.config, args.plugin, { yes: flags.yes === true, allowScripts: flags['allow-scripts'] === true, log, ask });
  }
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // end of input (Ctrl-D) is a no, not a question left hanging
  const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
  try {
    return /^y(es)?$/i.test((await Promise.race([rl.question(question), closed])).trim());
  } finally {
    rl.close();
  }
}
