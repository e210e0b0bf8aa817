import { Args, Flags } from '@oclif/core';
import { parseWatchArgs, replayWatch, watchLive } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { bufferFlag, inputFlag } from '../lib/input.js';
import { LiveRun, liveFlags } from '../lib/live.js';
import { checkLiveOnlyFlags } from '../lib/live-only.js';
import { probeBackendFlag } from '../lib/probe-flags.js';
import { probeProvider, probeUpText } from '../lib/probes.js';
import { WatchOutput } from '../lib/watch-output.js';
import { findWatch } from '../lib/watches.js';

export default class Watch extends TwCommand {
  static override summary = 'Run a watch on the live kernel or on a recording, and print its result.';
  static override description = `A watch is a small TypeScript program that handles kernel trace events (see "tw watches" for the installed ones).
Live (needs root): tw creates its own tracefs instance, enables only the events the watch declares (with its kernel-side filters) plus the process lifecycle events that keep process names current, reads every CPU's ring buffer and feeds the events to the watch in timestamp order until the watch calls stop(), --duration passes, or Ctrl-C (a second Ctrl-C forces exit). The instance is removed on every exit path. Once tracing has started it prints one line on stderr beginning "tw: tracing" (--quiet drops it).
With --input it replays a whole trace.dat recording (made by trace-cmd or tw) instead; the live options (--duration, --clock, --buffer-kb, --latency, --backend, --[no-]rt-readers, --[no-]process-events, --probe-backend, --record) are an error with it.
It prints what the watch's end() returns: as a table, or as JSON with --json (every shipped watch's includes "lost": events the kernel dropped, which the result may miss). Alerts are printed to stderr as they happen (and returned under "alerts" with --json).
When the kernel lost events live, a warning per CPU on stderr says why (tw fell behind, its reader ran late, or the kernel could not store them) and what helps ("losses" in --json: the kernel's counts next to the reader's).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> syscalls --duration 5',
    '<%= config.bin %> <%= command.id %> syscall-times 1234 --duration 30s --json',
    '<%= config.bin %> <%= command.id %> allcounts --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> syscall-times 1234 --input trace.dat',
  ];
  static override strict = false;
  static override usage = '<%= command.id %> NAME [ARGS...] [--duration TIME | --input FILE] [--json]';
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'the watch to run (see: tw watches), or the path of a watch module (./my-watch.js)', required: true }),
    args: Args.string({ description: 'the watch\'s own arguments, in order (see: tw watches)' }),
  };
  static override flags = {
    input: inputFlag,
    buffer: bufferFlag,
    quiet: Flags.boolean({ char: 'q', summary: 'Do not print alerts as they happen, nor the "tw: tracing" line.' }),
    'probe-backend': probeBackendFlag,
    record: Flags.string({ char: 'r', summary: 'Live: also write the traced events to this trace.dat file (replay it with --input).', helpValue: 'FILE' }),
    ...liveFlags,
  };

  async run(): Promise<unknown> {
    const { args, argv, flags, raw } = await this.parse(Watch);
    checkLiveOnlyFlags(flags, raw, ['probe-backend', 'record']);
    const { watch } = await findWatch(this.config, args.name);
    const run = { watch, args: parseWatchArgs(watch, (argv as string[]).slice(1)) };
    const out = new WatchOutput(watch, run.args, { json: this.jsonEnabled(), quiet: flags.quiet, log: (l) => this.log(l) });
    const live = flags.input ? undefined : new LiveRun(flags, !this.jsonEnabled());
    const probes = probeProvider(this.config, flags['probe-backend'], (p) => live?.tracingExtra.push(probeUpText(p)), live?.readerLatencyMs());
    if (!live) return out.render(await replayWatch(flags.input!, run, { probes, ...out.hooks, ...(flags.buffer ? { buffers: flags.buffer } : {}) }), []);
    out.status = live.status;
    try {
      const record = flags.record ? { record: { path: flags.record, version: 7 as const } } : {};
      const r = await watchLive(run, { ...live.sessionOptions(), probes, ...out.hooks, ...record, onReady: live.wrapReady(out.onReady) });
      live.warnLosses(r);
      return out.render(r.report, r.losses);
    } finally {
      live.dispose();
    }
  }
}
