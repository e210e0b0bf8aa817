/**
 * Bringing a probe up for a session: the backends in their stated order (or the one asked
 * for), the kernel's layout of the event checked against the spec before any event is trusted,
 * everything undone on failure; and the probe's generated unpacker for a watch session.
 */
import { release } from 'node:os';
import { TwError, Tracefs, isTwError, type ObjectGuard, type ProbeUnpacker, type RecordSource } from '@tw/core';
import { checkLayout, checkProbeParams, type ProbeParamValue } from '@tw/probe-spec';
import { isLoaded } from '../load.js';
import type { ProbeSpec } from '@tw/probe-spec';
import { importUnpacker } from '../unpacker.js';
import { probeBackendOrder, type BpfLoader, type BpfObjectInfo, type ProbeBackend, type ProbeBackendName, type ProbeEnv } from './backend.js';
import { bpfBackend } from './bpf-backend.js';
import { kprobeEventsBackend } from './kprobe-events-backend.js';
import { moduleBackend } from './module-backend.js';

const BACKENDS: Record<ProbeBackendName, ProbeBackend> = { module: moduleBackend, 'kprobe-events': kprobeEventsBackend, bpf: bpfBackend };

export interface ActiveProbe {
  spec: ProbeSpec;
  backend: ProbeBackendName;
  /** loaded by this call (false: it was already there, and stays) */
  ours: boolean;
  /** a filter to set on the event in the session's instance (kprobe-events backend) */
  filter: string | undefined;
  /**
   * what was tried and why it did not work, when the first choice failed; and what the backend
   * wants known (e.g. a module's path() stays inside each file's filesystem here)
   */
  notes: string[];
  /** undo what this call did */
  unload(): Promise<void>;
  /** BPF: the records of the probe's event, for the session to merge (no tracefs event exists) */
  source?: RecordSource;
  /** BPF: the object loaded, and whether it was prebuilt, cached or compiled now */
  bpfObject?: BpfObjectInfo;
  /**
   * Change the spec's live parameters while the probe runs (checked against the spec: a param
   * that is not live is PROBE_PARAM); absent where the backend cannot, or the probe is not ours.
   */
  setParams?(params: Readonly<Record<string, unknown>>): void;
}

export interface ProbeUpOptions {
  backend?: ProbeBackendName | 'auto';
  kdir?: string;
  outDir?: string;
  /**
   * values for the spec's params (the rest keep their defaults), checked against the spec first:
   * a name the spec does not declare, or a value that does not fit, is PROBE_PARAM
   */
  params?: Readonly<Record<string, ProbeParamValue>>;
  /** tracefs (default: found, and mounted if needed) */
  tracefs?: Tracefs;
  /** the BPF loader (the CLI gives @tw/relay-native's); without one BPF is not tried */
  bpf?: BpfLoader;
  /** how long a BPF record may wait before it is handed over (default 45 ms) */
  bpfLatencyMs?: number;
  /** the probe must outlive tw (tw probe load): BPF, which goes with the process, is not tried */
  persistent?: boolean;
  /** directories of prebuilt BPF objects (the spec's package's dist/bpf: prebuiltBpfDir(root)) */
  prebuiltDirs?: readonly string[];
  /**
   * told of each kprobe event or module before it is created and again once it is removed (the
   * session's guardian: see @tw/core's processGuardian); never used with `persistent`
   */
  guard?: ObjectGuard;
}

function formatOf(tracefs: Tracefs, spec: ProbeSpec): string {
  return tracefs.eventFormat('tw', spec.name).text;
}

/**
 * Make the probe's event exist with the first backend that can (see PROBE_BACKEND_ORDER), with
 * `params` given to the spec's params (checked against the spec before anything is tried), check
 * the kernel's layout of the event against the spec, and undo everything on failure. A layout
 * mismatch is never a reason to try the next backend: the spec and the kernel disagree.
 */
export async function probeUp(spec: ProbeSpec, opts: ProbeUpOptions = {}): Promise<ActiveProbe> {
  const tracefs = opts.tracefs ?? new Tracefs();
  const want = opts.backend ?? 'auto';
  if (want === 'bpf' && opts.persistent === true) {
    throw new TwError('BAD_ARGUMENT', `a BPF probe lives only as long as the tw process that loaded it: use probe '${spec.name}' through tw watch (or load it with --probe-backend module or kprobe-events)`);
  }
  const params = checkProbeParams(spec, opts.params ?? {});
  const already = want === 'bpf' ? false : await isLoaded(spec, { tracefsRoot: tracefs.root });
  if (already) {
    checkLayout(spec, formatOf(tracefs, spec));
    // it was loaded before (tw probe load) with parameters of its own, which stay
    const notes = Object.keys(params).length > 0 ? [`already loaded (${already}): it keeps the parameters it was loaded with; ${Object.keys(params).join(', ')} as given here are not applied`] : [];
    return { spec, backend: already, ours: false, filter: undefined, notes, unload: async () => undefined };
  }
  const env: ProbeEnv = { tracefs, kdir: opts.kdir ?? `/lib/modules/${release()}/build`, outDir: opts.outDir, params, bpf: opts.bpf, bpfLatencyMs: opts.bpfLatencyMs, prebuiltDirs: opts.prebuiltDirs, guard: opts.persistent === true ? undefined : opts.guard };
  const notes: string[] = [];
  /** the errors of the backends that were tried and failed */
  const failed: unknown[] = [];
  const order = probeBackendOrder(want, { persistent: opts.persistent === true });
  for (const name of order) {
    const backend = BACKENDS[name];
    const why = backend.unavailable(spec, env);
    if (why !== undefined) {
      if (want === 'module') throw new TwError('MODULE_LOAD', `cannot use a module for probe '${spec.name}': ${why}`);
      if (want === 'bpf') throw new TwError('PROBE_UNSUPPORTED', `cannot use BPF for probe '${spec.name}': ${why}`);
      notes.push(`${name === 'kprobe-events' ? 'kprobe events' : name}: ${why}`);
      continue;
    }
    let attached;
    try {
      attached = await backend.up(spec, env);
    } catch (e) {
      if (want === name || (isTwError(e) && e.code === 'LAYOUT_MISMATCH')) throw e;
      failed.push(e);
      notes.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    const active: ActiveProbe = { spec, backend: name, ours: true, filter: attached.filter, notes: [...notes, ...attached.notes], unload: attached.down, ...(attached.source ? { source: attached.source } : {}), ...(attached.bpfObject ? { bpfObject: attached.bpfObject } : {}) };
    const set = attached.setParams;
    if (set) active.setParams = (p) => set(checkLiveParams(spec, p));
    // a source's format is made from the spec itself: only a tracefs event can disagree
    if (attached.source) return active;
    try {
      checkLayout(spec, formatOf(tracefs, spec));
    } catch (e) {
      await active.unload();
      throw e;
    }
    return active;
  }
  // one backend was tried and failed (the others could not serve the spec here): its own error
  // (a verifier rejection, a missing object, a build failure) says best what went wrong
  if (failed.length === 1) throw failed[0];
  throw new TwError('PROBE_UNSUPPORTED', `probe '${spec.name}' cannot run here: ${notes.join('; ')}`);
}

export interface SessionUnpacker {
  /** tw:<name> */
  event: string;
  /** the imported <name>.unpack.js */
  file: string;
  /** what a watch session runs (RunOptions.unpackers) */
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

/** `params` checked against the spec, each one a live parameter (what may change while the probe runs). */
export function checkLiveParams(spec: ProbeSpec, params: Readonly<Record<string, unknown>>): Record<string, ProbeParamValue> {
  const checked = checkProbeParams(spec, params);
  for (const name of Object.keys(checked)) {
    if (!spec.params?.find((p) => p.name === name)?.live) {
      throw new TwError('PROBE_PARAM', `probe '${spec.name}', parameter ${name}: not a live parameter (the spec does not say live: true), so it cannot change while the probe runs`);
    }
  }
  return checked;
}
