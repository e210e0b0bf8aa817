// crossCheck(file): compare everything `tw` says about a recording with what
// trace-cmd (the oracle) says about it.
//
//  * `tw dump --input FILE` vs `trace-cmd report -R -t -i FILE`, per CPU and in
//    order: same number of events; for each event the same ts, pid, event
//    (system from trace-cmd's event list) and every field value (exact, see
//    values.ts).
//  * `tw watch allcounts --input FILE --json`: per-event counts, total, lost.
//  * `tw watch syscalls --input FILE --json`: total = raw_syscalls:sys_enter
//    records, and per-name counts for every syscall whose syscalls:sys_enter_<name>
//    event (and so its number) appears in the recording.
//
// Both outputs are streamed, so any size of recording can be checked.

import { loadTraceMeta, type EventFormat, type TraceMeta } from './formats.js';
import { streamOracle, type OracleLost, type OracleRecord } from './oracle.js';
import { run } from './proc.js';
import { parseTwDumpLine, runTwWatchJson, spawnTw, twCliPath, type TwEvent } from './tw.js';
import { parseWatchJson } from './watch-json.js';
import { compareFieldValue, newStats, type CompareStats } from './values.js';

export interface CrossCheckOptions {
  /** Stop reporting event mismatches after this many (default 5). */
  maxMismatches?: number;
  /** Also check `tw watch allcounts` and `tw watch syscalls` (default true). */
  watches?: boolean;
  /** Keep all oracle records in the report (default false; for small recordings). */
  keepRecords?: boolean;
}

export interface CrossCheckReport {
  file: string;
  /** Every problem found; empty means tw agrees with trace-cmd. */
  errors: string[];
  /** The same problems by check. */
  problems: { dump: string[]; allcounts: string[]; syscalls: string[] };
  oracle: {
    total: number;
    perCpu: Record<number, number>;
    /** "system:event" -> count */
    counts: Record<string, number>;
    /** Sum of the known drop counts. */
    lost: number;
    /** Drop markers without a count. */
    lostUnknown: number;
    /** raw_syscalls:sys_enter records. */
    rawSysEnter: number;
    /** Records of syscalls:sys_enter_* events. */
    sysEnterEvents: number;
    /** syscall name -> number, learned from syscalls:sys_enter_<name> events. */
    syscallNr: Record<string, number>;
    /** syscall name -> count of syscalls:sys_enter_<name> records. */
    sysEnterCounts: Record<string, number>;
  };
  tw: {
    total: number;
    perCpu: Record<number, number>;
    allcounts?: unknown;
    syscalls?: unknown;
  };
  /** Fields whose rendering carries no checkable value, with how often they occurred. */
  uncompared: Record<string, number>;
  /** Fields that could only partly be checked. */
  partial: Record<string, number>;
  /** Number of field values compared. */
  fieldsCompared: number;
  records?: OracleRecord[];
  lostMarkers: OracleLost[];
  meta: TraceMeta;
}

/** Names for which the x86-64 syscall name equals the syscalls:sys_enter_<name> event name. */
export const SAME_NAME_SYSCALLS = [
  'read', 'write', 'openat', 'close', 'getpid', 'getppid', 'gettid', 'getuid', 'geteuid', 'getgid', 'getegid',
  'unlinkat', 'unlink', 'mkdirat', 'kill', 'tgkill', 'execve', 'exit_group', 'wait4', 'clone', 'clone3',
  'mmap', 'munmap', 'mprotect', 'brk', 'pipe2', 'dup2', 'dup3', 'fcntl', 'ioctl', 'statx', 'newfstatat',
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'nanosleep', 'clock_nanosleep', 'futex', 'lseek',
  'getrandom', 'prctl', 'pread64', 'access', 'faccessat2', 'set_tid_address', 'set_robust_list', 'rseq',
];

class Deque<T> {
  private a: T[] = [];
  private h = 0;
  get length(): number {
    return this.a.length - this.h;
  }
  push(x: T): void {
    this.a.push(x);
  }
  peek(): T | undefined {
    return this.a[this.h];
  }
  shift(): T | undefined {
    const x = this.a[this.h];
    this.h++;
    if (this.h > 4096 && this.h * 2 > this.a.length) {
      this.a = this.a.slice(this.h);
      this.h = 0;
    }
    return x;
  }
  clear(): void {
    this.a = [];
    this.h = 0;
  }
}

interface CpuState {
  o: Deque<OracleRecord>;
  t: Deque<TwEvent>;
  /** index of the next event to compare */
  index: number;
  failed: boolean;
}

export function formatOracleRecord(meta: TraceMeta, r: OracleRecord): string {
  const ev = meta.events.get(r.name);
  const fields = [...r.fields].map(([k, v]) => `${k}=${v}`).join(' ');
  return `${r.buffer !== undefined ? `[${r.buffer}] ` : ''}ts=${r.ts} cpu=${r.cpu} pid=${r.pid} comm=${r.comm} ${ev?.system ?? '?'}:${r.name} ${fields} (report line ${r.line})`;
}

function formatTw(t: TwEvent): string {
  return `${t.text.length > 600 ? t.text.slice(0, 600) + '…' : t.text} (dump line ${t.line})`;
}

/** Compare one oracle record with one tw event; undefined when equal. */
export function compareEvent(meta: TraceMeta, o: OracleRecord, t: TwEvent, stats: CompareStats, counter: { fields: number }): string | undefined {
  const diffs: string[] = [];
  if (t.ts !== o.ts) diffs.push(`ts: trace-cmd ${o.ts}, tw ${t.ts}`);
  if (t.pid !== o.pid) diffs.push(`pid: trace-cmd ${o.pid}, tw ${t.pid}`);
  const colon = t.event.indexOf(':');
  const tsys = t.event.slice(0, colon);
  const tname = t.event.slice(colon + 1);
  const ev: EventFormat | undefined = meta.events.get(o.name);
  if (tname !== o.name) {
    diffs.push(`event: trace-cmd ${ev?.system ?? '?'}:${o.name}, tw ${t.event}`);
    return diffs.join('; ');
  }
  if (ev?.system !== undefined && tsys !== ev.system) diffs.push(`system: trace-cmd ${ev.system}, tw ${tsys}`);
  if (t.buffer !== undefined && t.buffer !== o.buffer) diffs.push(`buffer: trace-cmd ${o.buffer ?? '(top level)'}, tw ${t.buffer}`);
  if (!ev) {
    diffs.push(`no format for ${o.name}`);
    return diffs.join('; ');
  }
  const twKeys = Object.keys(t.fields);
  const missing = ev.fields.filter((f) => !Object.prototype.hasOwnProperty.call(t.fields, f.name)).map((f) => f.name);
  const extra = twKeys.filter((k) => !ev.fieldIndex.has(k));
  if (missing.length) diffs.push(`fields missing in tw: ${missing.join(', ')}`);
  if (extra.length) diffs.push(`extra fields in tw: ${extra.join(', ')}`);
  ev.fields.forEach((f, i) => {
    if (!Object.prototype.hasOwnProperty.call(t.fields, f.name)) return;
    const text = o.fields.get(f.name);
    if (text === undefined) return;
    counter.fields++;
    const d = compareFieldValue(ev, i, text, t.fields[f.name], meta, stats);
    if (d !== undefined) diffs.push(`field ${f.name} (${f.type}, size ${f.size}, ${f.signed ? 'signed' : 'unsigned'}): ${d}`);
  });
  return diffs.length ? diffs.join('; ') : undefined;
}

export async function crossCheck(file: string, opts: CrossCheckOptions = {}): Promise<CrossCheckReport> {
  const maxMismatches = opts.maxMismatches ?? 5;
  const meta = await loadTraceMeta(file);
  const problems = { dump: [] as string[], allcounts: [] as string[], syscalls: [] as string[] };
  const errors = problems.dump;
  const stats = newStats();
  const counter = { fields: 0 };
  const report: CrossCheckReport = {
    file,
    errors: [],
    problems,
    oracle: {
      total: 0,
      perCpu: {},
      counts: {},
      lost: 0,
      lostUnknown: 0,
      rawSysEnter: 0,
      sysEnterEvents: 0,
      syscallNr: {},
      sysEnterCounts: {},
    },
    tw: { total: 0, perCpu: {} },
    uncompared: {},
    partial: {},
    fieldsCompared: 0,
    lostMarkers: [],
    meta,
  };
  if (opts.keepRecords) report.records = [];
  const rawIdCounts = new Map<string, number>();

  const cpus = new Map<number, CpuState>();
  const cpuState = (cpu: number): CpuState => {
    let s = cpus.get(cpu);
    if (!s) cpus.set(cpu, (s = { o: new Deque(), t: new Deque(), index: 0, failed: false }));
    return s;
  };
  let mismatches = 0;
  let queued = 0; // oracle-queued minus tw-queued
  const drain = (cpu: number, s: CpuState) => {
    while (s.o.length > 0 && s.t.length > 0) {
      const o = s.o.shift() as OracleRecord;
      const t = s.t.shift() as TwEvent;
      if (!s.failed) {
        const d = compareEvent(meta, o, t, stats, counter);
        if (d !== undefined) {
          s.failed = true;
          mismatches++;
          if (mismatches <= maxMismatches) {
            errors.push(
              `${file}: CPU ${cpu}, event #${s.index} of that CPU differs: ${d}\n` +
                `    trace-cmd: ${formatOracleRecord(meta, o)}\n` +
                `    tw:        ${formatTw(t)}`,
            );
          }
        }
      }
      s.index++;
    }
    if (s.failed) {
      // once out of step, stop comparing that CPU (just count)
      queued -= s.o.length - s.t.length;
      s.o.clear();
      s.t.clear();
    }
  };

  const onOracle = (rec: OracleRecord) => {
    const o = report.oracle;
    o.total++;
    o.perCpu[rec.cpu] = (o.perCpu[rec.cpu] ?? 0) + 1;
    const ev = meta.events.get(rec.name);
    const key = `${ev?.system ?? '?'}:${rec.name}`;
    o.counts[key] = (o.counts[key] ?? 0) + 1;
    if (key === 'raw_syscalls:sys_enter') {
      o.rawSysEnter++;
      const id = rec.fields.get('id') ?? '?';
      rawIdCounts.set(id, (rawIdCounts.get(id) ?? 0) + 1);
    } else if (ev?.system === 'syscalls' && rec.name.startsWith('sys_enter_')) {
      o.sysEnterEvents++;
      const sc = rec.name.slice('sys_enter_'.length);
      o.sysEnterCounts[sc] = (o.sysEnterCounts[sc] ?? 0) + 1;
      const nr = rec.fields.get('__syscall_nr');
      if (nr !== undefined && /^\d+$/.test(nr)) o.syscallNr[sc] = Number(nr);
    }
    if (report.records) report.records.push(rec);
    const s = cpuState(rec.cpu);
    if (s.failed) return;
    s.o.push(rec);
    queued++;
    drain(rec.cpu, s);
  };
  const onTw = (t: TwEvent) => {
    report.tw.total++;
    report.tw.perCpu[t.cpu] = (report.tw.perCpu[t.cpu] ?? 0) + 1;
    const s = cpuState(t.cpu);
    if (s.failed) return;
    s.t.push(t);
    queued--;
    drain(t.cpu, s);
  };

  // Pull from both streams, always from the one that is behind, in batches.
  const oracleIt = streamOracle(file, meta);
  const twProc = spawnTw(['dump', '--input', file]);
  let oDone = false;
  let tDone = false;
  let twLine = 0;
  let twBroken = false;
  try {
    while (!oDone || !tDone) {
      const pullOracle = !oDone && (tDone || queued <= 0);
      for (let k = 0; k < 512; k++) {
        if (pullOracle) {
          const r = await oracleIt.next();
          if (r.done) {
            oDone = true;
            break;
          }
          if (r.value.type === 'event') onOracle(r.value.rec);
          else {
            report.lostMarkers.push(r.value.lost);
            if (r.value.lost.count !== undefined) report.oracle.lost += r.value.lost.count;
            else report.oracle.lostUnknown++;
          }
        } else {
          const r = await twProc.lines.next();
          if (r.done) {
            tDone = true;
            break;
          }
          twLine++;
          if (twBroken) continue;
          let t: TwEvent;
          try {
            t = parseTwDumpLine(r.value, twLine);
          } catch (e) {
            errors.push(`${file}: ${(e as Error).message}`);
            twBroken = true;
            continue;
          }
          onTw(t);
        }
      }
    }
  } finally {
    // only kill tw when abandoning its output (after EOF it is about to exit by itself)
    if (!tDone) twProc.kill();
    await oracleIt.return(undefined);
  }
  const td = await twProc.done;
  if (td.spawnError) errors.push(`${file}: cannot run tw: ${td.spawnError.message}`);
  else if (td.code !== 0) errors.push(`${file}: tw dump failed (${td.signal ?? `exit ${td.code}`}): ${td.stderr.trim()}`);
  if (mismatches > maxMismatches) errors.push(`${file}: ... ${mismatches - maxMismatches} more CPUs with differing events not shown`);

  // leftovers: one side has more events on some CPU
  for (const [cpu, s] of [...cpus].sort((a, b) => a[0] - b[0])) {
    const oc = report.oracle.perCpu[cpu] ?? 0;
    const tc = report.tw.perCpu[cpu] ?? 0;
    if (oc !== tc) {
      let msg = `${file}: CPU ${cpu}: trace-cmd has ${oc} events, tw ${tc}`;
      const o = s.o.peek();
      const t = s.t.peek();
      if (!s.failed && o) msg += `; first event missing from tw (#${s.index}): ${formatOracleRecord(meta, o)}`;
      if (!s.failed && t) msg += `; first extra tw event (#${s.index}): ${formatTw(t)}`;
      errors.push(msg);
    }
  }

  report.uncompared = Object.fromEntries(stats.uncompared);
  report.partial = Object.fromEntries(stats.partial);
  report.fieldsCompared = counter.fields;

  if (opts.watches ?? true) {
    await checkWatches(file, report, rawIdCounts);
  }
  report.errors = [...problems.dump, ...problems.allcounts, ...problems.syscalls];
  return report;
}

function diffCounts(a: Record<string, number>, b: Record<string, number>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => a[k] !== b[k]).map((k) => `${k}: trace-cmd ${a[k] ?? 0}, tw ${b[k] ?? 0}`);
}

function isCountMap(x: unknown): x is Record<string, number> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v) => typeof v === 'number');
}

async function checkWatches(file: string, report: CrossCheckReport, rawIdCounts: Map<string, number>): Promise<void> {
  let errors = report.problems.allcounts;
  const o = report.oracle;
  // allcounts
  try {
    const ac = await runTwWatchJson(['watch', 'allcounts', '--input', file, '--json']);
    report.tw.allcounts = ac;
    const r = ac as { counts?: unknown; total?: unknown; lost?: unknown };
    if (!isCountMap(r.counts)) errors.push(`${file}: tw watch allcounts: "counts" is not an object of numbers`);
    else {
      const d = diffCounts(o.counts, r.counts);
      if (d.length) errors.push(`${file}: tw watch allcounts counts differ from trace-cmd (${d.length} events): ${d.slice(0, 15).join('; ')}`);
    }
    if (r.total !== o.total) errors.push(`${file}: tw watch allcounts total ${String(r.total)}, trace-cmd has ${o.total} events`);
    if (o.lostUnknown === 0) {
      if (r.lost !== o.lost) errors.push(`${file}: tw watch allcounts lost ${String(r.lost)}, trace-cmd reports ${o.lost} dropped events`);
    } else if (typeof r.lost !== 'number' || r.lost < o.lost || (o.lost === 0 && r.lost === 0)) {
      errors.push(`${file}: tw watch allcounts lost ${String(r.lost)}, trace-cmd reports drops (${o.lost} counted + ${o.lostUnknown} uncounted markers)`);
    }
  } catch (e) {
    errors.push(`${file}: ${(e as Error).message}`);
  }
  // syscalls
  errors = report.problems.syscalls;
  if (o.rawSysEnter === 0 && o.sysEnterEvents === 0) {
    // No syscall records: tw must either report 0, or refuse because the file has no syscall events at all.
    const r = await run(process.execPath, [twCliPath(), 'watch', 'syscalls', '--input', file, '--json'], { check: false });
    const ok = r.code === 0 ? parseWatchJson<{ total?: unknown }>(r.stdout).result.total === 0 : r.code === 5 && /has none of them/.test(r.stderr);
    if (!ok) errors.push(`${file}: tw watch syscalls on a trace without syscall records: exit ${String(r.code)}, stdout ${r.stdout.slice(0, 200)}, stderr ${r.stderr.trim()}`);
    return;
  }
  try {
    const sc = await runTwWatchJson(['watch', 'syscalls', '--input', file, '--json']);
    report.tw.syscalls = sc;
    const r = sc as { counts?: unknown; total?: unknown };
    const expectedTotal = o.rawSysEnter > 0 ? o.rawSysEnter : o.sysEnterEvents;
    if (r.total !== expectedTotal) {
      errors.push(
        `${file}: tw watch syscalls total ${String(r.total)}, expected ${expectedTotal} (${o.rawSysEnter > 0 ? 'raw_syscalls:sys_enter' : 'syscalls:sys_enter_*'} records in trace-cmd)`,
      );
    }
    if (!isCountMap(r.counts)) errors.push(`${file}: tw watch syscalls: "counts" is not an object of numbers`);
    else {
      const counts = r.counts;
      const sum = Object.values(counts).reduce((a, b) => a + b, 0);
      if (sum !== r.total) errors.push(`${file}: tw watch syscalls counts sum to ${sum} but total is ${String(r.total)}`);
      const bad: string[] = [];
      for (const [name, nr] of Object.entries(o.syscallNr)) {
        // with raw_syscalls recorded, count the raw entries with that number; else the per-syscall events
        const expected = o.rawSysEnter > 0 ? (rawIdCounts.get(String(nr)) ?? 0) : (o.sysEnterCounts[name] ?? 0);
        const got = counts[name];
        if (got === undefined && !SAME_NAME_SYSCALLS.includes(name)) continue; // x86-64 name may differ (newfstat -> fstat)
        if ((got ?? 0) !== expected) bad.push(`${name} (nr ${nr}): expected ${expected}, tw ${got ?? 'missing'}`);
      }
      if (bad.length) errors.push(`${file}: tw watch syscalls per-name counts differ: ${bad.slice(0, 15).join('; ')}`);
    }
  } catch (e) {
    errors.push(`${file}: ${(e as Error).message}`);
  }
}
