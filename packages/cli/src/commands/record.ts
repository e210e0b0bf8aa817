import { Flags } from '@oclif/core';
import { Recorder, TwError, traceLive, type Engine } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { LiveRun, liveFlags, quietFlag } from '../lib/live.js';

export default class Record extends TwCommand {
  static override summary = 'Record live events into a trace.dat file (trace-cmd format).';
  static override description = `Needs root. Traces the chosen events in tw's own tracefs instance until --duration or Ctrl-C and writes them, sub-buffer by sub-buffer as the kernel produced them, to a trace.dat file that trace-cmd report and KernelShark read, and that any watch replays: tw watch <name> --input FILE.
The process names tw saw become the file's saved cmdlines.
Once tracing has started it prints one line on stderr beginning "tw: tracing" (--quiet drops it).
If the kernel lost events, a warning per CPU on stderr says why (tw fell behind, its reader ran late, or the kernel could not store them); --json adds "losses".`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> -o trace.dat -e "syscalls:*" -e "sched:sched_process_*" --duration 10s',
    '<%= config.bin %> <%= command.id %> -o kills.dat -e signal:signal_generate --filter "sig == 9"',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    output: Flags.string({ char: 'o', summary: 'The trace.dat file to write.', required: true, helpValue: 'FILE' }),
    event: Flags.string({ char: 'e', summary: 'Events to record: system:event, globs allowed. Repeatable.', multiple: true, required: true, helpValue: 'SYSTEM:EVENT' }),
    filter: Flags.string({ char: 'f', summary: 'Kernel filter expression applied to every -e event.', helpValue: 'EXPR' }),
    'file-version': Flags.integer({ summary: 'trace.dat version to write (6 or 7; uncompressed).', default: 7, options: ['6', '7'] as never }),
    quiet: quietFlag,
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
    const recorder = new Recorder(flags.output, version);
    const run = new LiveRun(flags, !this.jsonEnabled());
    let engine: Engine | undefined;
    const counts = new Map<string, number>();
    try {
      const live = await traceLive(
        run.options({
          events: flags.event,
          filters: flags.filter ? Object.fromEntries(flags.event.map((e) => [e, flags.filter!])) : {},
          onSubBuffer: recorder.onSubBuffer,
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
        ...(live.losses.length > 0 ? { losses: live.losses } : {}),
      };
      run.warnLosses(live);
      if (!this.jsonEnabled()) this.log(`wrote ${flags.output}: trace.dat v${version}, ${total} events, ${live.lost} lost`);
      return result;
    } catch (e) {
      await recorder.abort();
      throw e;
    } finally {
      run.dispose();
    }
  }
}
