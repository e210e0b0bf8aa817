/**
 * What a watch session needs of dynamic probes, whatever builds and loads them (kprobe-gen's
 * backends, given by the CLI: core knows no backend): bring a probe's event up for the session
 * and take it down after, and the probe's generated unpacker for custom_event handlers.
 */
import type { ProbeParams, ProbeUnpacker } from './define-watch.js';
import type { RecordSource } from './record-source.js';

export interface LiveProbe {
  /** tw:<name> */
  event: string;
  /** the mechanism that serves it ('module', 'kprobe-events', …) */
  backend: string;
  /** a kernel filter to set on the event in the session's instance (never with a `source`) */
  filter: string | undefined;
  /**
   * Where the event comes from when it is not a tracefs event: a BPF probe has none, its
   * records come from its ring buffer through this source (which declares `event` among its
   * events). The session merges them with the kernel's events; down() closes what it uses.
   */
  source?: RecordSource;
  /** what was tried and what the user should know */
  notes: readonly string[];
  /** undo what up() did */
  down(): Promise<void>;
  /**
   * Change live parameters (the spec's `live: true` ones) while the probe runs: the kernel
   * filters by the new values from the next event on. Throws a TwError (PROBE_PARAM: not in the
   * spec, not live, does not fit). Absent where the backend cannot (kprobe events, a probe that
   * was loaded before tw and keeps its own parameters).
   */
  setParams?(params: ProbeParams): void;
}

export interface ProbeProvider {
  /**
   * Make the probe's event exist, checked against its spec, with `params` given to the probe's
   * parameters (the rest keep the spec's defaults); throws a TwError saying why not: PROBE_PARAM
   * when a parameter is not in the spec or its value does not fit (naming probe and parameter).
   */
  up(name: string, params?: ProbeParams): Promise<LiveProbe>;
  /**
   * Check `params` against the probe's spec without bringing anything up: throws PROBE_PARAM
   * naming the probe and the parameter that is not in the spec or whose value does not fit its
   * type. A probe that is not installed is up()'s to report: nothing to check.
   */
  checkParams(name: string, params: ProbeParams): Promise<void>;
  /**
   * The probe's generated unpacker for custom_event, or undefined when it cannot be had (then
   * `onNote` says why, and its events reach custom_event decoded from their format).
   */
  unpacker(name: string, onNote: (message: string) => void): Promise<{ event: string; unpacker: ProbeUnpacker } | undefined>;
}
