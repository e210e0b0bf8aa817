/**
 * A tw alert as an Alertmanager alert (API v2, `postableAlert`): what it is called, which labels
 * make its identity, which annotations carry the rest, and when it starts. docs/alertmanager.md
 * explains the choices to operators; the reasons are here.
 *
 * - Identity. Alertmanager knows an alert by its label set alone: two posts with the same labels
 *   are one alert (the later one's annotations win). The labels are therefore the watch
 *   (`alertname`, and `watch` for the configured instance of it), the host (`instance`), and
 *   the culprit (`comm` and `pid`): two culprits are two alerts, and the same culprit raising
 *   the same watch's alert again while the first is active updates that one alert instead of
 *   paging twice. A re-sent post (a retry whose first answer was lost) is harmless for the same
 *   reason. Nothing unbounded or per-event (time, message) is a label.
 * - No endsAt. A tw alert is an event, not a state that could later clear. An alert posted
 *   without endsAt stays active for Alertmanager's `resolve_timeout` (default 5m) counted from
 *   when Alertmanager received it, then resolves by itself. That is what an event needs, and it
 *   keeps working when delivery was late: an endsAt computed by tw from the event's time would
 *   make an alert that waited out an Alertmanager outage arrive already resolved, and
 *   Alertmanager never notifies for an alert it has only seen resolved. tw does not re-send
 *   (that would keep an event firing for ever).
 * - startsAt is the alert's own wall-clock time (when the event happened), or the time it was
 *   handed to the sink when the trace gives none.
 * - Severity is the operator's routing choice, so it comes from the configuration (per watch,
 *   else for all), never from what a watch puts in its details.
 */
import { printable, type Alert, type Culprit } from '@tw/core';

/** What Alertmanager's POST /api/v2/alerts takes (one element of the array). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/** The labels tw sets itself; configured labels of the same names do not replace them. */
export const OWN_LABELS = ['alertname', 'instance', 'watch', 'comm', 'pid'] as const;

export const DEFAULT_SEVERITY = 'warning';

/** Longest label value sent (comm is at most 15 bytes; configured values are short). */
const LABEL_MAX = 256;
/** Longest annotation value sent (a cmdline may be long; a page should not be). */
const ANNOTATION_MAX = 4096;
/** Longest summary: the message's first line. */
const SUMMARY_MAX = 256;

/**
 * A label name as Prometheus and Alertmanager accept it: [a-zA-Z_][a-zA-Z0-9_]*, with every
 * other character made "_", a leading digit prefixed with "_", and a leading "__" (reserved for
 * Prometheus' own use) made a single "_".
 */
export function labelName(name: string): string {
  let n = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (n === '') return '_';
  if (/^[0-9]/.test(n)) n = `_${n}`;
  return n.replace(/^_{2,}/, '_');
}

/** Lone UTF-16 surrogates, which would not survive as UTF-8 (Alertmanager requires valid UTF-8). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` cut to `max` characters, marked as cut, and never in the middle of a surrogate pair. */
function bounded(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}… (${s.length} characters)`;
}

/** A label value: one printable line (controls escaped as tw escapes them everywhere), bounded. */
export function labelValue(v: string): string {
  return bounded(printable(v.replace(LONE_SURROGATE, '\uFFFD')), LABEL_MAX);
}

/** An annotation value: printable like a label value, but it keeps its line breaks and tabs. */
function annotationValue(v: string, max = ANNOTATION_MAX): string {
  const clean = v.replace(LONE_SURROGATE, '\uFFFD').split('\n').map((line) => line.split('\t').map(printable).join('\t')).join('\n');
  return bounded(clean, max);
}

/** The parent chain as one line, nearest first: "1234 bash <- 1 systemd". */
export function parentsText(c: Culprit): string | undefined {
  if (c.parents === undefined || c.parents.length === 0) return undefined;
  return c.parents.map((p) => `${p.pid} ${p.comm}`).join(' <- ');
}

/** The configured extra labels, named as Prometheus allows; `note` hears about names that had to change or are tw's own. */
export function extraLabels(labels: Record<string, string>, note: (msg: string) => void = () => {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    const name = labelName(k);
    if (name !== k) note(`label name '${printable(k)}' is sent as '${name}' (Prometheus label names are [a-zA-Z_][a-zA-Z0-9_]*)`);
    if ((OWN_LABELS as readonly string[]).includes(name)) {
      note(`label '${name}' is set by tw itself; the configured value is not used`);
      continue;
    }
    if (name in out) note(`label '${name}' is configured twice (after renaming); the last value is used`);
    const value = labelValue(String(v));
    if (value !== '') out[name] = value;
  }
  return out;
}

export interface AlertLabelling {
  /** the host: the `instance` label */
  instance: string;
  /** the configured extra labels, already through extraLabels() */
  labels: Record<string, string>;
  /** severity when neither the watch's configuration nor the extra labels say (default "warning") */
  severity?: string | undefined;
}

/** What the configuration says about the watch that raised the alert. */
export interface AlertExtra {
  /** the watch's severity (routes the page); wins over the `severity` of the extra labels */
  severity?: string | undefined;
  /** the configured watch's id (two who-killed watches for two pids are two ids): the `watch` label */
  watchId?: string | undefined;
}

/** A valid ISO time from the alert, else `now`. */
function startOf(time: string | null, now: Date): string {
  if (time !== null) {
    const t = Date.parse(time);
    if (Number.isFinite(t)) return new Date(t).toISOString();
  }
  return now.toISOString();
}

function set(into: Record<string, string>, name: string, v: string | number | undefined, value: (s: string) => string): void {
  if (v === undefined) return;
  const s = value(String(v));
  if (s !== '') into[name] = s;
}

/** The Alertmanager alert for a tw alert. */
export function toPostableAlert(a: Alert, l: AlertLabelling, extra: AlertExtra = {}, now = new Date()): PostableAlert {
  const labels: Record<string, string> = { ...l.labels };
  set(labels, 'alertname', a.watch, labelValue);
  set(labels, 'instance', l.instance, labelValue);
  set(labels, 'severity', extra.severity ?? l.labels.severity ?? l.severity ?? DEFAULT_SEVERITY, labelValue);
  set(labels, 'watch', extra.watchId ?? a.watch, labelValue);
  const annotations: Record<string, string> = {};
  set(annotations, 'summary', a.message.split('\n', 1)[0] ?? '', (s) => annotationValue(s, SUMMARY_MAX));
  set(annotations, 'description', a.message, annotationValue);
  const c = a.culprit;
  if (c !== undefined) {
    set(labels, 'comm', c.comm, labelValue);
    set(labels, 'pid', c.pid, labelValue);
    set(annotations, 'pid', c.pid, annotationValue);
    set(annotations, 'comm', c.comm, annotationValue);
    set(annotations, 'tgid', c.tgid, annotationValue);
    set(annotations, 'ppid', c.ppid, annotationValue);
    set(annotations, 'uid', c.uid, annotationValue);
    set(annotations, 'exe', c.exe, annotationValue);
    set(annotations, 'cmdline', c.cmdline, annotationValue);
    set(annotations, 'parents', parentsText(c), annotationValue);
  }
  if (a.details !== undefined && Object.keys(a.details).length > 0) set(annotations, 'details', JSON.stringify(a.details), annotationValue);
  set(annotations, 'trace_ts', a.ts === 0n ? undefined : a.ts.toString(), annotationValue);
  return { labels, annotations, startsAt: startOf(a.time, now) };
}
