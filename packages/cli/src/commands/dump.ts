import { Flags } from '@oclif/core';
import { TwError, dumpFile, traceLive } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { bufferFlag, inputFlag } from '../lib/input.js';
import { LiveRun, liveFlags, quietFlag } from '../lib/live.js';
import { checkLiveOnlyFlags } from '../lib/live-only.js';
import { eventProbesUp } from '../lib/event-probes.js';
import { probeBackendFlag } from '../lib/probe-flags.js';
import { probeUpText } from '../lib/probes.js';
import { writeAllSync } from '../lib/write-sync.js';

export default class Dump extends TwCommand {
  static override summary = 'Print events as JSON lines, live or from a recording.';
  static override description = `Each line: {"ts":"<ns>","cpu":N,"pid":N,"comm":"...","event":"system:name","fields":{...}} (plus "buffer" for events of a named instance buffer), in timestamp order across CPUs.
Live (needs root; -e is required): streams the chosen events as they happen until --duration or Ctrl-C, with an optional kernel-side --filter. With --input: every event of the recording (the live options, --duration and --filter among them, are an error with it).
ts is a decimal string of nanoseconds in the trace clock. Integers that fit in 53 bits are numbers, larger ones decimal strings; char arrays are strings; other arrays are arrays. Only the event's own fields are printed (common_pid is "pid").
Events tw:<name> of installed probe specs (see tw probe list) bring their probe up for the dump and take it down after, as tw watch does (--probe-backend chooses how).
Live, once tracing has started it prints one line on stderr beginning "tw: tracing" (--quiet drops it, and the notes on how probes came up), naming each probe with its backend ("tw:unlinkat via bpf (prebuilt object)": a BPF object shipped in its plugin, else cached, else compiled with clang). When stdout is closed (| head) it stops quietly, exit 0, and cleans up.
If the kernel lost events live, a warning per CPU on stderr says why (tw fell behind, its reader ran late, or the kernel could not store them).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> -e signal:signal_generate --filter "sig == 9" --duration 1m',
    '<%= config.bin %> <%= command.id %> -e "syscalls:sys_enter_unlink*" --duration 10s',
    '<%= config.bin %> <%= command.id %> --input examples/sample.dat | head',
    '<%= config.bin %> <%= command.id %> --input trace.dat -e signal:signal_generate -e "sched:sched_process_*"',
  ];
  static override flags = {
    input: inputFlag,
    buffer: bufferFlag,
    event: Flags.string({ char: 'e', summary: 'Only events matching system:event (globs allowed). Repeatable.', multiple: true, helpValue: 'SYSTEM:EVENT' }),
    limit: Flags.integer({ char: 'n', summary: 'Stop after this many events.', min: 1 }),
    filter: Flags.string({ char: 'f', summary: 'Live: kernel filter expression applied to every -e event (tracefs filter syntax).', helpValue: 'EXPR' }),
    quiet: quietFlag,
    'probe-backend': probeBackendFlag,
    ...liveFlags,
  };

  async run(): Promise<void> {
    const { flags, raw } = await this.parse(Dump);
    checkLiveOnlyFlags(flags, raw, ['probe-backend']);
    // a closed stdout (| head) ends the trace like a Ctrl-C: quietly, with full teardown
    let run: LiveRun | undefined;
    const out = new LineWriter(() => run?.end());
    try {
      if (flags.input) {
        if (flags.filter) throw new TwError('BAD_ARGUMENT', '--filter applies to live tracing; to select from a recording use -e');
        await dumpFile(flags.input, (line) => {
          out.write(line);
          // no one reads any more: stop reading the file
          if (out.closed) throw STDOUT_CLOSED;
        }, {
          ...(flags.event ? { events: flags.event } : {}),
          ...(flags.buffer ? { buffers: flags.buffer } : {}),
          ...(flags.limit ? { limit: flags.limit } : {}),
        }).catch((e: unknown) => {
          if (e !== STDOUT_CLOSED) throw e;
        });
        return;
      }
      if (!flags.event || flags.event.length === 0) {
        throw new TwError('BAD_ARGUMENT', 'live dump needs the events to trace: -e system:event (globs allowed), e.g. -e sched:sched_process_exec');
      }
      // (also kept in `run`, for the LineWriter's callback when stdout closes)
      const session = new LiveRun(flags, true, () => out.flush());
      run = session;
      // tw:<name> events: their probes come up for this dump and go after it
      const probes = await eventProbesUp(this.config, flags.event, {
        backend: flags['probe-backend'],
        bpfLatencyMs: run.readerLatencyMs(),
        onUp: (p) => session.tracingExtra.push(probeUpText(p)),
        onNote: (m) => (flags.quiet ? undefined : process.stderr.write(`tw: note: ${m}\n`)),
      });
      const filters = probes.filters(flags.event, flags.filter);
      const sources = probes.sources();
      const limit = flags.limit ?? Infinity;
      let n = 0;
      // lines reach the reader promptly: the latency target is end to end
      const flushTimer = setInterval(() => out.flush(), 10);
      try {
        const live = await traceLive(
          run.options({ events: flags.event, filters, ...(sources.length > 0 ? { sources } : {}) }),
          () => ({
            visit: (e) => {
              if (out.closed) return false;
              out.write(e.toJSONLine());
              return ++n < limit;
            },
            finish: () => n,
          }),
        );
        out.flush();
        run.warnLosses(live);
      } finally {
        clearInterval(flushTimer);
        // probes down while a second Ctrl-C still forces the exit (the guardian takes what is left)
        await probes.down((m) => process.stderr.write(`tw: ${m}\n`));
        run.dispose();
      }
    } finally {
      out.flush();
    }
  }
}

const STDOUT_CLOSED = new Error('stdout was closed');

/**
 * Encodes lines into one reused 1 MiB buffer and writes it to fd 1 when full: no per-flush
 * strings or Buffers, so memory stays flat however many events are dumped.
 */
class LineWriter {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  /** stdout was closed by its reader: everything else is dropped */
  closed = false;

  constructor(private readonly onClosed: () => void) {}

  write(line: string): void {
    if (this.closed) return;
    // worst case 3 bytes per UTF-16 unit, plus the newline
    if (this.pos + line.length * 3 + 1 > this.buf.length) {
      this.flush();
      if (line.length * 3 + 1 > this.buf.length) {
        this.send(Buffer.from(line + '\n'));
        return;
      }
    }
    this.pos += this.buf.write(line, this.pos);
    this.buf[this.pos++] = 10;
  }

  flush(): void {
    if (this.pos === 0 || this.closed) return;
    const n = this.pos;
    this.pos = 0;
    this.send(this.buf.subarray(0, n));
  }

  private send(bytes: Buffer): void {
    try {
      writeAllSync(1, bytes);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      this.closed = true;
      this.onClosed();
    }
  }
}
