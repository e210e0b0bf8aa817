// Cross-check of tw against trace-cmd on real recordings made here, on this kernel.
//
// Needs root, tracefs and trace-cmd (skipped with the reason otherwise). Makes a
// private tracefs instance, runs a known workload on CPUs 0 and 1, extracts a
// v7 file and converts it to v6, then checks `tw dump`, `tw watch allcounts`
// and `tw watch syscalls` against `trace-cmd report -R -t` for both files.
//
// TW_CROSSCHECK_FILES=a.dat:b.dat additionally cross-checks those recordings
// (only trace-cmd is needed for that). TW_KEEP_RECORDINGS=1 keeps the temp dirs.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossCheck, type CrossCheckReport } from './support/crosscheck.js';
import type { OracleRecord } from './support/oracle.js';
import { instancePrefix, makeRecording, MANY_EVENT_SYSTEMS, type Recording } from './support/record.js';
import { listInstances, skipReason, topLevelEnabledEvents, which } from './support/tracefs.js';
import { twAvailable, twCliPath } from './support/tw.js';
import { oracleField } from './support/values.js';

const reason = skipReason();
if (reason !== undefined) console.warn(`[crosscheck.kernel] kernel cross-check skipped: ${reason}`);

/** Minimum number of events the standard recording must contain. */
const MIN_EVENTS = 5000;

function show(list: string[]): string {
  return list.length === 0 ? '' : `\n${list.join('\n\n')}\n`;
}

function recordsOf(report: CrossCheckReport): OracleRecord[] {
  if (!report.records) throw new Error('cross-check report kept no records');
  return report.records;
}

function num(report: CrossCheckReport, r: OracleRecord, field: string): number {
  const ev = report.meta.events.get(r.name);
  if (!ev) throw new Error(`no format for ${r.name}`);
  return Number(oracleField(ev, r.fields, field));
}

function describeReport(report: CrossCheckReport): string {
  const extra = [
    Object.keys(report.uncompared).length ? `uncompared: ${JSON.stringify(report.uncompared)}` : '',
    Object.keys(report.partial).length ? `partial: ${JSON.stringify(report.partial)}` : '',
  ].filter(Boolean);
  return `${report.file}: ${report.oracle.total} events (${JSON.stringify(report.oracle.perCpu)} per CPU), ${report.fieldsCompared} field values compared${extra.length ? '; ' + extra.join('; ') : ''}`;
}

describe.skipIf(reason !== undefined)(`cross-check with trace-cmd${reason !== undefined ? ` (skipped: ${reason})` : ''}`, () => {
  let dir: string | undefined;
  let rec: Recording;
  let enabledBefore: string[] = [];

  beforeAll(async () => {
    if (!twAvailable()) throw new Error(`tw CLI not found at ${twCliPath()} (build it, or set TW_CLI)`);
    enabledBefore = topLevelEnabledEvents();
    dir = await mkdtemp(join(tmpdir(), 'tw-crosscheck-'));
    rec = await makeRecording(dir);
    console.info(`[crosscheck.kernel] recorded ${rec.v7} and ${rec.v6}; trace-cmd extract removed the instance itself: ${rec.extractRemovedInstance}`);
  });

  afterAll(async () => {
    if (dir !== undefined && !process.env['TW_KEEP_RECORDINGS']) await rm(dir, { recursive: true, force: true });
  });

  it('leaves no tracefs instance and no enabled event behind', () => {
    expect(listInstances(instancePrefix())).toEqual([]);
    expect(topLevelEnabledEvents()).toEqual(enabledBefore);
  });

  it('recorded without losing events', () => {
    for (const s of rec.bufferStats) {
      expect(s.overrun, `CPU ${s.cpu} ring buffer overrun`).toBe(0);
      expect(s.dropped, `CPU ${s.cpu} dropped events`).toBe(0);
    }
  });

  for (const version of ['v7', 'v6'] as const) {
    describe(`trace.dat ${version}`, () => {
      let report: CrossCheckReport;

      beforeAll(async () => {
        report = await crossCheck(rec[version], { keepRecords: true });
        console.info(`[crosscheck.kernel] ${describeReport(report)}`);
      });

      it('tw dump equals trace-cmd report event by event on each CPU', () => {
        expect(report.problems.dump, show(report.problems.dump)).toEqual([]);
        expect(report.tw.perCpu).toEqual(report.oracle.perCpu);
      });

      it('the recording is substantial, on both CPUs, without drops', () => {
        expect(report.oracle.total).toBeGreaterThan(MIN_EVENTS);
        expect(report.oracle.perCpu[0] ?? 0).toBeGreaterThan(0);
        expect(report.oracle.perCpu[1] ?? 0).toBeGreaterThan(0);
        expect(report.oracle.lost + report.oracle.lostUnknown).toBe(0);
        expect(report.lostMarkers).toEqual([]);
      });

      it('shows the workload', () => {
        const records = recordsOf(report);
        const w = rec.workload;
        for (const c of w.cpus) {
          // the killed sleeps: signal_generate with the signal and the target pid
          const gen = records.filter((r) => r.name === 'signal_generate');
          expect(
            gen.some((r) => num(report, r, 'sig') === 9 && num(report, r, 'pid') === c.sigkillPid),
            `signal_generate sig=9 pid=${c.sigkillPid}`,
          ).toBe(true);
          expect(
            gen.some((r) => num(report, r, 'sig') === 15 && num(report, r, 'pid') === c.sigtermPid),
            `signal_generate sig=15 pid=${c.sigtermPid}`,
          ).toBe(true);
          // the rm deleted every file
          const unlinks = records.filter((r) => r.pid === c.rmPid && (r.name === 'sys_enter_unlinkat' || r.name === 'sys_enter_unlink'));
          expect(unlinks.length, `unlink(at) calls of rm pid ${c.rmPid}`).toBeGreaterThanOrEqual(w.files);
          // the syscall loop
          const getppid = records.filter((r) => r.pid === c.loopPid && r.name === 'sys_enter_getppid');
          expect(getppid.length, `getppid calls of pid ${c.loopPid}`).toBeGreaterThanOrEqual(w.loops);
          // everything the pinned workload did ran on its CPU
          const own = records.filter((r) => r.pid === c.loopPid || r.pid === c.rmPid);
          expect(own.length).toBeGreaterThan(0);
          expect(new Set(own.map((r) => r.cpu))).toEqual(new Set([c.cpu]));
          // exec of a file whose name has spaces and '=' (strings with spaces)
          expect(
            records.some(
              (r) => r.name === 'sched_process_exec' && r.pid === c.oddExecPid && (r.fields.get('filename') ?? '').endsWith(`/${w.oddName}`),
            ),
            `sched_process_exec of "${w.oddName}" by pid ${c.oddExecPid}`,
          ).toBe(true);
          expect(
            records.some((r) => r.name === 'task_rename' && num(report, r, 'pid') === c.oddExecPid && r.fields.get('newcomm') === w.oddName),
            `task_rename to "${w.oddName}"`,
          ).toBe(true);
        }
      });

      it('tw watch allcounts equals trace-cmd counts', () => {
        expect(report.problems.allcounts, show(report.problems.allcounts)).toEqual([]);
        const ac = report.tw.allcounts as { counts: Record<string, number>; total: number; lost: number };
        expect(ac.total).toBe(report.oracle.total);
        expect(ac.lost).toBe(0);
        expect(ac.counts['syscalls:sys_enter_getppid']).toBe(report.oracle.counts['syscalls:sys_enter_getppid']);
        expect(ac.counts['raw_syscalls:sys_enter']).toBe(report.oracle.rawSysEnter);
      });

      it('tw watch syscalls equals trace-cmd syscall entries', () => {
        expect(report.problems.syscalls, show(report.problems.syscalls)).toEqual([]);
        const sc = report.tw.syscalls as { counts: Record<string, number>; total: number };
        expect(sc.total).toBe(report.oracle.rawSysEnter);
        for (const name of ['getppid', 'unlinkat', 'openat', 'kill', 'execve']) {
          expect(sc.counts[name], `syscalls counts.${name}`).toBe(report.oracle.sysEnterCounts[name]);
        }
        expect(sc.counts['getppid'] ?? 0).toBeGreaterThanOrEqual(2 * rec.workload.loops);
      });
    });
  }

  describe(`many event kinds (${MANY_EVENT_SYSTEMS.join(', ')})`, () => {
    let many: Recording;
    let manyDir: string | undefined;

    beforeAll(async () => {
      manyDir = await mkdtemp(join(tmpdir(), 'tw-crosscheck-many-'));
      many = await makeRecording(manyDir, { events: MANY_EVENT_SYSTEMS });
    });

    afterAll(async () => {
      if (manyDir !== undefined && !process.env['TW_KEEP_RECORDINGS']) await rm(manyDir, { recursive: true, force: true });
    });

    for (const version of ['v7', 'v6'] as const) {
      it(`tw agrees with trace-cmd on the ${version} file`, async () => {
        const report = await crossCheck(many[version]);
        console.info(`[crosscheck.kernel] ${describeReport(report)}`);
        expect(report.errors, show(report.errors)).toEqual([]);
        expect(Object.keys(report.oracle.counts).length).toBeGreaterThan(40);
      });
    }

    it('leaves no tracefs instance and no enabled event behind', () => {
      expect(listInstances(instancePrefix())).toEqual([]);
      expect(topLevelEnabledEvents()).toEqual(enabledBefore);
    });
  });
});

// Any recordings named in TW_CROSSCHECK_FILES (colon-separated).
const extraFiles = (process.env['TW_CROSSCHECK_FILES'] ?? '').split(':').filter((f) => f !== '');
const noTraceCmd = which('trace-cmd') === undefined ? 'trace-cmd is not installed' : undefined;

describe.skipIf(extraFiles.length === 0 || noTraceCmd !== undefined)(
  `cross-check of TW_CROSSCHECK_FILES${noTraceCmd !== undefined && extraFiles.length > 0 ? ` (skipped: ${noTraceCmd})` : ''}`,
  () => {
    for (const file of extraFiles) {
      it(`tw agrees with trace-cmd on ${file}`, async () => {
        const report = await crossCheck(file);
        console.info(`[crosscheck.kernel] ${describeReport(report)}`);
        expect(report.errors, show(report.errors)).toEqual([]);
      }, 3_600_000);
    }
  },
);
