import { Flags } from '@oclif/core';
import { Recorder, TwError, traceLive, type Engine } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { eventProbesUp, type EventProbes } from '../lib/event-probes.js';
import { LiveRun, liveFlags, parseDuration, quietFlag } from '../lib/live.js';
import { probeBackendFlag } from '../lib/probe-flags.js';
import { probeUpText } from '../lib/probes.js';

export default class Record extends TwCommand {
  static override summary = 'Record live events into a trace.dat file (trace-cmd format).';
  static override description = `Needs root. Traces the chosen events in tw's own tracefs instance until --duration or Ctrl-C and writes them, sub-buffer by sub-buffer as the kernel produced them, to a trace.dat file that trace-cmd report and KernelShark read, and that any watch replays: tw watch <name> --input FILE.
The process names tw saw become the file's saved cmdlines.
Events tw:<name> of installed probe specs (see tw probe list) bring their probe up for the recording and take it down after, however it ends, as tw watch does (--probe-backend chooses how). A probe served by BPF has no tracefs event: its records are stored as a buffer of their own named bpf-<name>, with the event's format, which trace-cmd report prints with its fields and --input replays.
Once tracing has started it prints one line on stderr beginning "tw: tracing" (--quiet drops it), naming each probe and its backend ("tw:unlinkat via bpf (prebuilt object)").
It prints how many events of each kind it wrote (--json: "counts", tw:<name> events included, and "probes": how each probe came up).
If the kernel lost events, a warning per CPU on stderr says why (tw fell behind, its reader ran late, or the kernel could not store them); --json adds "losses".`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> -o trace.dat -e "syscalls:*" -e "sched:sched_process_*" --duration 10s',
    '<%= config.bin %> <%= command.id %> -o kills.dat -e signal:signal_generate --filter "sig == 9"',
    '<%= config.bin %> <%= command.id %> -o unlinks.dat -e tw:unlinkat -e sched:sched_process_exec --duration 1m',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    output: Flags.string({ char: 'o', summary: 'The trace.dat file to write.', required: true, helpValue: 'FILE' }),
    event: Flags.string({ char: 'e', summary: 'Events to record: system:event, globs allowed, or tw:<name> of an installed probe spec. Repeatable.', multiple: true, required: true, helpValue: 'SYSTEM:EVENT' }),
    filter: Flags.string({ char: 'f', summary: 'Kernel filter expression applied to every -e event.', helpValue: 'EXPR' }),
    'file-version': Flags.integer({ summary: 'trace.dat version to write (6 or 7; uncompressed).', default: 7, options: ['6', '7'] as never }),
    quiet: quietFlag,
    'probe-backend': probeBackendFlag,
    ...liveFlags,
    // a recording has no handler waiting: read whole sub-buffers, a partly filled one only this often
    latency: Flags.integer({
      summary: 'How long (ms) a partly filled sub-buffer may stay in the kernel before it is written. Smaller means more, emptier pages in the file.',
      default: 1000,
      min: 1,
      max: 10_000,
      helpValue: 'MS',
    }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(Record);
    const version = flags['file-version'];
    if (version !== 6 && version !== 7) throw new TwError('BAD_ARGUMENT', `--file-version must be 6 or 7, got ${version}`);
    parseDuration(flags.duration); // a bad --duration is refused before any probe comes up
    const recorder = new Recorder(flags.output, version);
    const run = new LiveRun(flags, !this.jsonEnabled());
    let probes: EventProbes | undefined;
    let engine: Engine | undefined;
    const counts = new Map<string, number>();
    try {
      // tw:<name> events: their probes come up for this recording and go after it
      probes = await eventProbesUp(this.config, flags.event, {
        backend: flags['probe-backend'],
        bpfLatencyMs: run.readerLatencyMs(),
        onUp: (p) => run.tracingExtra.push(probeUpText(p)),
        // what was tried and what to know, as tw watch says it (not with --json or --quiet)
        onNote: (m) => (this.jsonEnabled() || flags.quiet ? undefined : process.stderr.write(`tw: note: ${m}\n`)),
      });
      const sources = probes.sources();
      const live = await traceLive(
        run.options({
          events: flags.event,
          filters: probes.filters(flags.event, flags.filter),
          ...(sources.length > 0 ? { sources } : {}),
          onSubBuffer: recorder.onSubBuffer,
          onSourcePage: recorder.onSourcePage,
          onReady: (info) => recorder.onReady(info),
          // a recorder needs the sub-buffers, not decoded events: counting them is enough
          decode: false,
        }),
        (e) => {
          engine = e;
          return {
            visit: (ev) => {
              counts.set(ev.event, (counts.get(ev.event) ?? 0) + 1);
              return true;
            },
            finish: () => undefined,
          };
        },
      );
      for (const [id, n] of live.counts) {
        const name = live.info.formats.get(id)?.fullName ?? `unknown:${id}`;
        counts.set(name, (counts.get(name) ?? 0) + n);
      }
      await recorder.finish(engine);
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const result = {
        output: flags.output,
        version,
        events: total,
        lost: live.lost,
        counts: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])),
        ...(probes.info.length > 0 ? { probes: probes.info } : {}),
        ...(live.losses.length > 0 ? { losses: live.losses } : {}),
      };
      run.warnLosses(live);
      if (!this.jsonEnabled()) {
        this.log(`wrote ${flags.output}: trace.dat v${version}, ${total} events, ${live.lost} lost`);
        for (const [name, n] of Object.entries(result.counts)) this.log(`  ${String(n).padStart(10)}  ${name}`);
      }
      return result;
    } catch (e) {
      await recorder.abort();
      throw e;
    } finally {
      // probes down while a second Ctrl-C still forces the exit (the guardian takes what is left)
      await probes?.down((m) => process.stderr.write(`tw: ${m}\n`));
      run.dispose();
    }
  }
}
