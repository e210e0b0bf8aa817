/**
 * Probe specs from installed plugins ("tw": { "probes": "<module>" } in their package.json),
 * and bringing a probe up for a session: a kernel module where one can be built and loaded,
 * else a tracefs kprobe event, else a clear error saying why neither works here. The layout the
 * kernel reports is checked against the spec's before any event is trusted. And the probe's
 * generated unpacker (<name>.unpack.js), which a watch session runs for its events.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '@oclif/core';
import { TwError, findTracefs, isTwError, type ProbeUnpacker } from '@tw/core';
import {
  addKprobeEvent,
  buildModule,
  checkLayout,
  importUnpacker,
  isLoaded,
  loadModule,
  moduleName,
  removeKprobeEvent,
  unloadModule,
  validateProbeSpec,
  type ProbeSpec,
} from '@tw/kprobe-gen';

export interface InstalledProbe {
  spec: ProbeSpec;
  plugin: string;
}

export async function loadProbeSpecs(config: Config): Promise<InstalledProbe[]> {
  const out: InstalledProbe[] = [];
  const seen = new Map<string, string>();
  for (const plugin of config.getPluginsList()) {
    const entry = (plugin.pjson as { tw?: { probes?: string } }).tw?.probes;
    if (!entry) continue;
    let mod: { default?: unknown; probes?: unknown };
    try {
      mod = (await import(pathToFileURL(join(plugin.root, entry)).href)) as typeof mod;
    } catch (e) {
      throw new TwError('PROBE_SPEC', `plugin ${plugin.name}: cannot load its probe specs from ${entry}: ${(e as Error).message}`, { cause: e });
    }
    const list = Array.isArray(mod.probes) ? mod.probes : Array.isArray(mod.default) ? mod.default : [];
    for (const raw of list as unknown[]) {
      const spec = validateProbeSpec(raw);
      const prev = seen.get(spec.name);
      if (prev) throw new TwError('PROBE_SPEC', `probe '${spec.name}' is provided by both ${prev} and ${plugin.name}`);
      seen.set(spec.name, plugin.name);
      out.push({ spec, plugin: plugin.name });
    }
  }
  return out.sort((a, b) => a.spec.name.localeCompare(b.spec.name));
}

export async function findProbe(config: Config, name: string): Promise<InstalledProbe> {
  const all = await loadProbeSpecs(config);
  const hit = all.find((p) => p.spec.name === name);
  if (!hit) throw new TwError('UNKNOWN_EVENT', `no probe spec named '${name}'; installed: ${all.map((p) => p.spec.name).join(', ') || 'none'} (see: tw probe list)`);
  return hit;
}

export type ProbeBackend = 'module' | 'kprobe-events';

export interface ActiveProbe {
  spec: ProbeSpec;
  backend: ProbeBackend;
  /** loaded by this call (false: it was already there, and stays) */
  ours: boolean;
  /** a filter to set on the event in the session's instance (kprobe-events backend) */
  filter: string | undefined;
  /**
   * what was tried and why it did not work, when the first choice failed; and when a module's
   * path() stays inside each file's filesystem because struct mount's layout could not be read
   * (no BTF, no pahole)
   */
  notes: string[];
  /** undo what this call did */
  unload(): Promise<void>;
}

export interface ProbeUpOptions {
  backend?: ProbeBackend | 'auto';
  kdir?: string;
  outDir?: string;
  params?: Record<string, string | number>;
}

function formatOf(root: string, spec: ProbeSpec): string {
  return readFileSync(join(root, 'events', 'tw', spec.name, 'format'), 'utf8');
}

/**
 * Make the probe's event exist: module (built for this kernel, cached), else kprobe events.
 * Checks the kernel's layout of the event against the spec; undoes everything on failure.
 */
export async function probeUp(spec: ProbeSpec, opts: ProbeUpOptions = {}): Promise<ActiveProbe> {
  const root = findTracefs();
  const already = await isLoaded(spec, { tracefsRoot: root });
  if (already) {
    checkLayout(spec, formatOf(root, spec));
    return { spec, backend: already, ours: false, filter: undefined, notes: [], unload: async () => undefined };
  }
  const want = opts.backend ?? 'auto';
  const notes: string[] = [];
  const kdir = opts.kdir ?? `/lib/modules/${release()}/build`;
  if (want === 'module' || want === 'auto') {
    const why = !existsSync('/proc/modules')
      ? 'this kernel cannot load modules (no /proc/modules)'
      : !existsSync(kdir)
        ? `no kernel build tree at ${kdir} (install the kernel headers, or give --kdir)`
        : undefined;
    if (why === undefined) {
      try {
        const built = await buildModule(spec, { kdir, ...(opts.outDir ? { outDir: opts.outDir } : {}) });
        const pathNotes: string[] = [];
        await loadModule(built.ko, opts.params ?? {}, { spec, onNote: (n) => pathNotes.push(n) });
        notes.push(...pathNotes);
        return await verified(root, {
          spec, backend: 'module', ours: true, filter: undefined, notes,
          unload: async () => {
            await unloadModule(moduleName(spec), { tracefsRoot: root });
          },
        });
      } catch (e) {
        if (want === 'module' || (isTwError(e) && e.code === 'LAYOUT_MISMATCH')) throw e;
        notes.push(`module: ${(e as Error).message.split('\n')[0]}`);
      }
    } else {
      if (want === 'module') throw new TwError('MODULE_LOAD', `cannot use a module for probe '${spec.name}': ${why}`);
      notes.push(`module: ${why}`);
    }
  }
  if (!existsSync(join(root, 'kprobe_events'))) {
    throw new TwError(
      'PROBE_UNSUPPORTED',
      `probe '${spec.name}' cannot run here: ${[...notes, 'kprobe events: this kernel has none (no kprobe_events in tracefs)'].join('; ')}`,
    );
  }
  const def = await addKprobeEvent(root, spec, opts.params ? { params: opts.params } : {});
  return verified(root, {
    spec, backend: 'kprobe-events', ours: true, filter: def.filter, notes,
    unload: async () => {
      await removeKprobeEvent(root, spec);
    },
  });
}

/** The kernel's format of the probe's event must match the spec's layout; else undo and throw. */
async function verified(root: string, active: ActiveProbe): Promise<ActiveProbe> {
  try {
    checkLayout(active.spec, formatOf(root, active.spec));
  } catch (e) {
    await active.unload();
    throw e;
  }
  return active;
}

export interface SessionUnpacker {
  /** tw:<name> */
  event: string;
  /** the imported <name>.unpack.js */
  file: string;
  /** what the session runs (RunOptions.unpackers) */
  unpacker: ProbeUnpacker;
}

/**
 * The probe's generated unpacker for a watch session: `<name>.unpack.js` from the unpacker cache
 * (compiled and stored first when missing), imported and checked against the spec. The session
 * asks it once whether the event's format in the trace (live: the kernel's, already checked by
 * probeUp; offline: the recording's) fits the spec's layout; when not, `onReject` hears why and
 * that event is decoded from its format instead.
 */
export async function probeUnpacker(spec: ProbeSpec, onReject: (why: string) => void): Promise<SessionUnpacker> {
  const u = await importUnpacker(spec);
  return {
    event: u.event,
    file: u.file,
    unpacker: {
      specHash: u.specHash,
      unpack: u.unpack,
      accepts(format) {
        const why = u.layoutProblem(format);
        if (why !== undefined) onReject(why);
        return why === undefined;
      },
    },
  };
}
