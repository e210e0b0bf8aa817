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
import { splitWatchOptions, watchNameOf, type FlagShape } from '../lib/watch-options.js';
import { writeAllSync } from '../lib/write-sync.js';

export default class Watch extends TwCommand {
  static override summary = 'Run a watch on the live kernel or on a recording, and print its result.';
  static override description = `A watch is a small TypeScript program that handles kernel trace events (see "tw watches" for the installed ones).
NAME may also be a watch file anywhere: a path (./top.ts, /abs/w.mjs) or a name ending in .ts, .mts, .js or .mjs, an ES module whose default export is a watch. TypeScript is transpiled on load (not type-checked: tsc and tw gen types do that), and its imports of @tw/core and @tw/probe-spec are tw's own copies, so the file needs no node_modules; errors name the file's own line:column. Start one with tw new watch NAME.
Live (needs root): tw creates its own tracefs instance, enables only the events the watch declares (with its kernel-side filters) plus the process lifecycle events that keep process names current, reads every CPU's ring buffer and feeds the events to the watch in timestamp order until the watch calls stop() (a watch that answers a question, like who-deleted, does so once it has the answer, unless --keep-going), --duration passes, or Ctrl-C (a second Ctrl-C forces exit). The instance is removed on every exit path; what tw cannot remove itself (after kill -9, or when V8 runs out of memory) a small guardian process it starts first removes within about a second. A hook or handler that throws or rejects, or watch code that throws or rejects outside them, fails the run with one line (exit 6); process.exit(n) in watch code ends it after the teardown, with exit code n. Once tracing has started it prints one line on stderr beginning "tw: tracing" (--quiet drops it).
With --input it replays a trace.dat recording (made by trace-cmd or tw) instead, to its end or until the watch stops; the live options (--duration, --clock, --buffer-kb, --latency, --backend, --[no-]rt-readers, --[no-]process-events, --probe-backend, --record) are an error with it.
It prints what the watch's end() returns: as a table, or as JSON with --json (every shipped watch's includes "lost": events the kernel dropped, which the result may miss).
Alerts (a watch's ctx.alert) go out as they happen, live and from a recording alike: a line on stderr "[<local time> <trace seconds>] <watch>: <message>" (not with --json or --quiet); with --json one line {"alert":{...}} per alert on stdout, written when it happens; with --exec CMD, CMD run by /bin/sh per alert; with --notify, a desktop notification. An alert is {"time","ts","watch","message","culprit"?,"details"?}: time is the wall-clock time in ISO 8601 UTC (live with the clock mono, and from tw's own recordings of such runs, the event's time; live with another clock, the time of the alert; null from a recording that has no wall-clock reference), ts the trace timestamp in ns (a string), culprit the process the watch named ({pid, comm, tgid, ppid, uid, exe, cmdline, parents: [{pid, comm}]}, members present when known: what the event's probe captured in the kernel, else what tw's process table knew at the event), details the watch's own.
--json output: zero or more alert lines, then the result as the last line (one line of JSON; with "alerts": every alert, when the result is an object and there were any). Read stdout line by line: a line whose only member is "alert" is an alert, the last line is the result (or {"error": {...}}).
--exec CMD: runs /bin/sh -c CMD per alert with the alert's JSON on stdin and TW_WATCH, TW_MESSAGE, TW_TIME, TW_TS and, with a culprit, TW_PID, TW_COMM, TW_TGID, TW_PPID, TW_UID, TW_EXE, TW_CMDLINE in the environment (empty when unknown); its output goes to tw's stderr. At most 4 run at once and each is killed after 30 s; live, up to 64 more wait and further alerts skip the command (counted at the end); the trace never waits for them. The first failure (exit status, signal, timeout, cannot start) is said at once on stderr, the rest counted at the end; the watch goes on. At the end tw waits for the commands still running (live at most 10 s, then kills them).
--notify: notify-send per alert where it is installed and a session bus is reachable; else one line at the start says why not, and tw goes on.
When the kernel lost events live, a warning per CPU on stderr says why (tw fell behind, its reader ran late, or the kernel could not store them) and what helps ("losses" in --json: the kernel's counts next to the reader's).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> syscalls --duration 5',
    '<%= config.bin %> <%= command.id %> syscall-times 1234 --duration 30s --json',
    '<%= config.bin %> <%= command.id %> allcounts --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> ./my-watch.ts --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> syscall-times 1234 --input trace.dat',
    '<%= config.bin %> <%= command.id %> who-killed 1234 --json | while read -r line; do echo "$line"; done',
    '<%= config.bin %> <%= command.id %> who-deleted /etc --keep-going --exec \'logger -t tw "$TW_MESSAGE (pid $TW_PID)"\'',
  ];
  static override strict = false;
  static override usage = '<%= command.id %> NAME [ARGS...] [WATCH OPTIONS...] [--duration TIME | --input FILE] [--keep-going] [--json] [--exec CMD] [--notify]';
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'the watch to run (see: tw watches), or a watch file (./my-watch.ts, .mts, .js, .mjs)', required: true }),
    args: Args.string({ description: 'the watch\'s own arguments, in order, and its options (--fatal, ...) anywhere (see: tw watches)' }),
  };
  static override flags = {
    input: inputFlag,
    buffer: bufferFlag,
    quiet: Flags.boolean({ char: 'q', summary: 'Do not print alert lines on stderr, nor the "tw: tracing" line (--json, --exec and --notify still get every alert).' }),
    exec: Flags.string({ summary: 'Run this shell command per alert: the alert as JSON on stdin, TW_* variables in its environment.', helpValue: 'CMD' }),
    notify: Flags.boolean({ summary: 'Send a desktop notification per alert (notify-send, on a session bus); where not possible, say why at the start.' }),
    'keep-going': Flags.boolean({ summary: 'Go on after the answer: a watch that ends by itself once it has its culprit (who-modified, who-deleted, who-killed) alerts on every culprit until Ctrl-C or --duration.' }),
    'probe-backend': probeBackendFlag,
    record: Flags.string({ char: 'r', summary: 'Live: also write the traced events to this trace.dat file (replay it with --input).', helpValue: 'FILE' }),
    ...liveFlags,
  };

  async run(): Promise<unknown> {
    // the watch's own options (--fatal, ...) are known once the watch is: take them out first
    const name = watchNameOf(this.argv, Watch.flags as Record<string, FlagShape>);
    const found = name !== undefined ? await findWatch(this.config, name) : undefined;
    const split = found ? splitWatchOptions(this.argv, found.watch, [...Object.keys(Watch.flags), 'json', 'help']) : { argv: this.argv, options: {} };
    const { argv, flags, raw } = await this.parse(Watch, split.argv);
    checkLiveOnlyFlags(flags, raw, ['probe-backend', 'record']);
    const watch = found!.watch;
    const run = { watch, args: parseWatchArgs(watch, (argv as string[]).slice(1), split.options), keepGoing: flags['keep-going'] };
    const out = new WatchOutput(watch, run.args, {
      json: this.jsonEnabled(), quiet: flags.quiet, log: (l) => this.log(l), exec: flags.exec, notify: flags.notify, mode: flags.input ? 'file' : 'live',
    });
    const live = flags.input ? undefined : new LiveRun(flags, !this.jsonEnabled(), undefined, watch.name);
    const probes = probeProvider(this.config, flags['probe-backend'], (p) => live?.tracingExtra.push(probeUpText(p)), live?.readerLatencyMs());
    try {
      if (!live) return out.render(await replayWatch(flags.input!, run, { probes, ...out.hooks, ...(flags.buffer ? { buffers: flags.buffer } : {}) }), []);
      out.status = live.status;
      const record = flags.record ? { record: { path: flags.record, version: 7 as const } } : {};
      const r = await watchLive(run, { ...live.sessionOptions(), probes, ...out.hooks, ...record, onReady: live.wrapReady(out.onReady) });
      live.warnLosses(r);
      return out.render(r.report, r.losses);
    } finally {
      // --exec's commands finish (bounded) before the result is printed; a second Ctrl-C
      // meanwhile still forces the exit (the signal handlers go with live.dispose())
      await out.alerts.end();
      live?.dispose();
    }
  }

  /** --json: the result (or error) as one line, the last line of stdout after the alert lines. */
  protected override logJson(json: unknown): void {
    try {
      writeAllSync(1, Buffer.from(`${JSON.stringify(json)}\n`));
    } catch (e) {
      // no one reads stdout any more (| head): nothing to say, as tw dump
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
    }
  }
}
