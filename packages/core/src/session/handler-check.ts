/**
 * Handlers a watch can never get live: live, tw enables only the events a watch declares
 * (`events`, every alternative of an "a|b" pattern), so a handler whose pattern matches none of
 * them is never called — silently, unless this check says so when the watch loads. (On a
 * recording the session hands a handler every event of the file it matches, declared or not.)
 */
import type { AnyWatch } from '../watch/define-watch.js';
import { declaredEvents } from './run-watches.js';

export interface HandlerProblem {
  /** the handler's key in `on` */
  handler: string;
  /** what is wrong and what to do, starting with the handler: "handler 'x' …" */
  message: string;
}

/**
 * Can some event name match both glob patterns? ('*' any run of characters, '?' one character,
 * as in globToRegExp; every other character stands for itself.)
 */
export function globsIntersect(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === a.length && j === b.length) r = true;
    // a star matches nothing more, or takes the next character the other pattern makes
    else if (a[i] === '*') r = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (b[j] === '*') r = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else if (i < a.length && j < b.length) r = (a[i] === b[j] || a[i] === '?' || b[j] === '?') && go(i + 1, j + 1);
    else r = false;
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/**
 * The watch's handlers that no declared event reaches, for these args (events may depend on
 * them). `custom_event` gets the dynamic-probe events (tw:*): it is reachable when the watch
 * declares probes or tw:* events. `*` is reachable when the watch declares any event.
 */
export function unreachableHandlers(watch: AnyWatch, args: Record<string, unknown>): HandlerProblem[] {
  const declared = declaredEvents(watch, args);
  const alternatives = declared.flatMap((p) => p.split('|'));
  const list = declared.length > 0 ? declared.join(', ') : 'none';
  const problems: HandlerProblem[] = [];
  for (const handler of Object.keys(watch.on)) {
    if (handler === 'custom_event') {
      if ((watch.probes?.length ?? 0) > 0 || alternatives.some((p) => globsIntersect(p, 'tw:*'))) continue;
      problems.push({
        handler,
        message: `handler 'custom_event' is never called live: it gets dynamic-probe (tw:*) events, and the watch declares no probes and no tw:* events (declared: ${list}); on a recording it runs only if the file has tw:* events. Declare the probes the watch uses (probes: [...]) and their tw:<name> events`,
      });
      continue;
    }
    const pattern = handler === '*' ? '*' : handler;
    if (alternatives.some((p) => globsIntersect(p, pattern))) continue;
    // events that depend on the args (an option adds some): a handler of a probe the watch
    // declares is reached with other args
    if (typeof watch.events === 'function' && handler.startsWith('tw:') && (watch.probes ?? []).includes(handler.slice(3))) continue;
    problems.push({
      handler,
      message: `handler '${handler}' is never called live: it matches none of the events the watch declares (${list}), and tw enables only those; on a recording it runs only if the file has the event. Add it to the watch's events`,
    });
  }
  return problems;
}
