/**
 * Probe specs from installed plugins ("tw": { "probes": "<module>" } in their package.json), and
 * the ProbeProvider a watch session uses: kprobe-gen's probe lifecycle (backends in their stated
 * order, layout check, undo) and generated unpackers, for the specs the plugins declare.
 */
import { join } from 'node:path';
import type { Config } from '@oclif/core';
import { findTracefs, isTwError, processGuard, quoted, TwError, type ObjectGuard, type ProbeParams, type ProbeProvider } from '@tw/core';
import { isShipped, warnOnStderr, type Warn } from './watches.js';
import { importPluginModule } from './watch-file.js';
import { checkProbeParams, prebuiltBpfDir, probeUnpacker, probeUp, validateProbeSpec, type ActiveProbe, type BpfLoader, type BpfObjectOrigin, type ProbeBackendName, type ProbeSpec } from '@tw/kprobe-gen';
import { bpfKprobeAttach, bpfProgramTypes, bpfStatus, openBpfProbe, type BpfProgramTypes } from '@tw/relay-native';

/** The addon's libbpf loader, for kprobe-gen's BPF backend. */
let programTypes: BpfProgramTypes | undefined;

export const bpfLoader: BpfLoader = {
  status: bpfStatus,
  canRun(kind) {
    programTypes ??= bpfProgramTypes();
    const loads = programTypes[kind];
    if (loads !== true) return `the kernel refuses to load them (${loads})`;
    return kind === 'kprobe' ? bpfKprobeAttach() : true;
  },
  open: (o) => openBpfProbe(o),
};

export interface InstalledProbe {
  spec: ProbeSpec;
  plugin: string;
  /** the plugin's prebuilt BPF objects (<plugin root>/dist/bpf; it may not exist) */
  prebuiltDir: string;
}

export async function loadProbeSpecs(config: Config, warn: Warn = warnOnStderr): Promise<InstalledProbe[]> {
  const out: InstalledProbe[] = [];
  const seen = new Map<string, { plugin: string; shipped: boolean }>();
  // shipped plugins first: their probes' names are theirs (as with watches: see loadWatches)
  const plugins = [...config.getPluginsList()].sort((a, b) => Number(isShipped(b)) - Number(isShipped(a)));
  for (const plugin of plugins) {
    const entry = (plugin.pjson as { tw?: { probes?: string } }).tw?.probes;
    if (!entry) continue;
    const shipped = isShipped(plugin);
    let specs: ProbeSpec[];
    try {
      let mod: { default?: unknown; probes?: unknown };
      try {
        mod = (await importPluginModule(join(plugin.root, entry), shipped)) as typeof mod;
      } catch (e) {
        throw new TwError('PROBE_SPEC', `plugin ${plugin.name}: cannot load its probe specs from ${entry}: ${(e as Error).message}`, { cause: e });
      }
      const list = Array.isArray(mod.probes) ? mod.probes : Array.isArray(mod.default) ? mod.default : [];
      // each spec as a validated, frozen copy of plain data: only the copy is used from here on
      specs = (list as unknown[]).map((raw) => validateProbeSpec(raw));
    } catch (e) {
      if (shipped || !isTwError(e)) throw e;
      warn(`plugin ${quoted(plugin.name)}: ${e.message.replace(/^plugin \S+: /, '')}; its probes are skipped`);
      continue;
    }
    for (const spec of specs) {
      const prev = seen.get(spec.name);
      if (prev) {
        if (shipped) throw new TwError('PROBE_SPEC', `probe '${spec.name}' is provided by both ${prev.plugin} and ${plugin.name}`);
        warn(`plugin ${quoted(plugin.name)}: its probe ${quoted(spec.name)} is ignored: ${prev.shipped ? 'a probe shipped with tw' : `plugin ${quoted(prev.plugin)}'s probe`} has that name`);
        continue;
      }
      seen.set(spec.name, { plugin: plugin.name, shipped });
      out.push({ spec, plugin: plugin.name, prebuiltDir: prebuiltBpfDir(plugin.root) });
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

/** A probe brought up: its event, by which backend, and for BPF where its object came from. */
export interface ProbeUpInfo {
  event: string;
  backend: ProbeBackendName;
  /** BPF: prebuilt (shipped in the plugin), cached (compiled earlier here) or compiled (by clang, now) */
  object?: BpfObjectOrigin;
}

const ORIGIN_TEXT: Record<BpfObjectOrigin, string> = { prebuilt: 'prebuilt object', cached: 'cached object', compiled: 'compiled with clang' };

/** How the "tw: tracing" line names a probe: "tw:unlinkat via bpf (prebuilt object)". */
export function probeUpText(p: ProbeUpInfo): string {
  return `${p.event} via ${p.backend}${p.object ? ` (${ORIGIN_TEXT[p.object]})` : ''}`;
}

function upInfo(p: ActiveProbe): ProbeUpInfo {
  return { event: `tw:${p.spec.name}`, backend: p.backend, ...(p.bpfObject ? { object: p.bpfObject.origin } : {}) };
}

let guard: ObjectGuard | undefined;

/**
 * The guardian of this process (@tw/core's processGuard): a probe's kprobe event or module is
 * told to it before it is created, so a killed tw leaves neither behind (BPF needs nothing).
 */
function sessionGuard(): ObjectGuard {
  return (guard ??= processGuard(findTracefs()));
}

/**
 * The probes of installed plugins, brought up with `backend` ('auto': kprobe-gen's stated order)
 * and the parameters a watch gives them (checked against the spec first: PROBE_PARAM); a BPF
 * probe's object comes from the plugin's prebuilt ones first. `onUp` hears each probe brought
 * up, by which backend and (BPF) from which object.
 */
export function probeProvider(config: Config, backend: ProbeBackendName | 'auto', onUp?: (p: ProbeUpInfo) => void, bpfLatencyMs?: number): ProbeProvider {
  return {
    async up(name, params) {
      const { spec, prebuiltDir } = await findProbe(config, name);
      const p = await probeUp(spec, { backend, bpf: bpfLoader, guard: sessionGuard(), prebuiltDirs: [prebuiltDir], ...(params !== undefined ? { params } : {}), ...(bpfLatencyMs !== undefined ? { bpfLatencyMs } : {}) });
      onUp?.(upInfo(p));
      const set = p.setParams;
      return {
        event: `tw:${spec.name}`, backend: p.backend, filter: p.filter, notes: p.notes, down: () => p.unload(),
        ...(p.source ? { source: p.source } : {}),
        ...(set ? { setParams: (values: ProbeParams) => set(values) } : {}),
      };
    },
    async checkParams(name, params) {
      const hit = (await loadProbeSpecs(config)).find((p) => p.spec.name === name);
      if (hit) checkProbeParams(hit.spec, params);
    },
    async unpacker(name, onNote) {
      const event = `tw:${name}`;
      let spec: ProbeSpec;
      try {
        spec = (await findProbe(config, name)).spec;
      } catch (e) {
        onNote(`probe '${name}': ${(e as Error).message.split('\n')[0]}; its events reach custom_event decoded from their format`);
        return undefined;
      }
      try {
        const u = await probeUnpacker(spec, (why) => onNote(`${event}: not using the generated unpacker (${why}); custom_event gets data decoded from the format`));
        return { event: u.event, unpacker: u.unpacker };
      } catch (e) {
        onNote(`${event}: no generated unpacker (${(e as Error).message.split('\n')[0]}); custom_event gets data decoded from the format`);
        return undefined;
      }
    },
  };
}
