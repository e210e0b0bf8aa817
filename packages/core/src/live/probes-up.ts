/**
 * The probes of one live watch session, step by step: the parameters the watch gives them
 * checked (all of them, before anything is brought up), each probe brought up with its own
 * parameters, and the kernel filters the session then sets. watchLive runs these in order and
 * takes the probes down on every exit path.
 */
import { TwError, isTwError } from '../errors.js';
import type { ProbeParams } from '../watch/define-watch.js';
import { formatProbeParams, watchProbeParams } from '../watch/probe-params.js';
import type { LiveProbe, ProbeProvider } from '../watch/probe-provider.js';
import type { WatchRun } from '../session/run-watches.js';
import { globsIntersect } from '../session/handler-check.js';

/** A PROBE_PARAM error from the provider, said for the watch that gave the parameters. */
function forWatch(watch: string, e: unknown): unknown {
  if (!isTwError(e) || e.code !== 'PROBE_PARAM' || e.message.startsWith(`watch '${watch}'`)) return e;
  return new TwError('PROBE_PARAM', `watch '${watch}': ${e.message}`, { cause: e });
}

/**
 * The watch's probe parameters, checked against the probes' specs by the provider: a probe the
 * watch does not declare, a parameter the spec does not have, or a value that does not fit is a
 * PROBE_PARAM error naming the watch, the probe and the parameter, whichever probe would have
 * come up.
 */
export async function checkedProbeParams(run: WatchRun, provider: ProbeProvider | undefined): Promise<Map<string, ProbeParams>> {
  const params = watchProbeParams(run.watch, run.args);
  if (provider === undefined) return params;
  for (const [name, p] of params) {
    try {
      await provider.checkParams(name, p);
    } catch (e) {
      throw forWatch(run.watch.name, e);
    }
  }
  return params;
}

/**
 * Bring up the probes a watch declares, each with the parameters the watch gives it, pushing
 * each onto `up` as it comes (the caller takes them down). A probe that only offers an
 * alternative ("tw:x|sys:y") may be missing: the session uses the other events instead. A later
 * alternative ("tw:a|tw:b": b) is not brought up once an earlier one is — unless another pattern
 * still needs it. A probe none of the declared events names (nor a glob of them: 'tw:*') is not
 * brought up: with these args the watch does not want it. Probes are tried in the order the watch lists them. Parameter errors are
 * never a probe "missing": they fail the run.
 */
export async function probesUp(
  run: WatchRun,
  events: readonly string[],
  provider: ProbeProvider | undefined,
  params: ReadonlyMap<string, ProbeParams>,
  note: (message: string) => void,
  up: LiveProbe[],
): Promise<void> {
  const isUp = (event: string) => up.some((p) => p.event === event);
  for (const name of run.watch.probes ?? []) {
    const event = `tw:${name}`;
    // several watches in one session (watchLiveMany): a probe another watch brought up serves this one too
    if (isUp(event)) continue;
    // a later alternative ("tw:a|tw:b": b) has nothing to add once an earlier one is up; a probe
    // named by several patterns comes up while one of them still needs it (no earlier alternative
    // up there), so a watch can offer it as the fallback of one pattern and the first choice of another
    const patterns = events.filter((p) => p.split('|').includes(event));
    const covered =
      patterns.length > 0 &&
      patterns.every((p) => {
        const alts = p.split('|');
        const at = alts.indexOf(event);
        return at > 0 && alts.slice(0, at).some(isUp);
      });
    if (covered) continue;
    // no declared event (for these args: an option may add some) is this probe's: nothing would read it
    if (!events.some((p) => p.split('|').some((alt) => globsIntersect(alt, event)))) continue;
    try {
      if (!provider) throw new TwError('PROBE_UNSUPPORTED', `watch '${run.watch.name}' declares probe '${name}', and no probe backend was given`);
      const given = params.get(name);
      const p = await provider.up(name, given);
      up.push(p);
      for (const n of p.notes) note(`probe '${name}': ${n}`);
    } catch (e) {
      if (isTwError(e) && e.code === 'PROBE_PARAM') throw forWatch(run.watch.name, e);
      const optional = events.some((p) => p.split('|').length > 1 && p.split('|').includes(event));
      if (!optional) throw e;
      note(`probe '${name}' is not available (${(e as Error).message.split('\n')[0]}); using the other events the watch accepts instead`);
    }
  }
}

/**
 * The kernel filters of the session: the watch's, and a probe's own (a kprobe event's, its
 * parameters substituted) joined to the watch's for the same event with &&. A probe whose events
 * come from a source (BPF) has no tracefs event to filter: the watch's filter for it is dropped,
 * with a note saying what filters it instead (the parameters the watch gave it, or nothing).
 */
export function sessionFilters(
  watchFilters: Readonly<Record<string, string>>,
  up: readonly LiveProbe[],
  params: ReadonlyMap<string, ProbeParams>,
  note: (message: string) => void,
): Record<string, string> {
  const filters: Record<string, string> = { ...watchFilters };
  for (const p of up) {
    if (!p.filter || p.source) continue;
    const own = filters[p.event];
    filters[p.event] = own === undefined ? p.filter : `(${p.filter}) && (${own})`;
  }
  const sourceEvents = new Set(up.flatMap((p) => (p.source ? p.source.events.map((e) => `${e.system}:${e.name}`) : [])));
  for (const [pattern, expr] of Object.entries(filters)) {
    if (!sourceEvents.has(pattern)) continue;
    delete filters[pattern];
    const given = params.get(pattern.slice(3));
    const by = given && Object.keys(given).length > 0 ? `the probe filters by the parameters the watch gave it: ${formatProbeParams(given)}` : 'the watch gives the probe no parameters: its handler sees every event the probe emits';
    note(`${pattern} comes from a BPF probe: the watch's kernel filter '${expr}' is not applied (${by})`);
  }
  return filters;
}
