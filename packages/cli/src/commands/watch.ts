import { Args, Flags } from '@oclif/core';
import { TwError, formatSeconds, parseWatchArgs, replayFile, type Alert } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { LIVE_NOT_YET, bufferFlag, inputFlag } from '../lib/input.js';
import { findWatch } from '../lib/watches.js';

export default class Watch extends TwCommand {
  static override summary = 'Run a watch on a recording and print its result.';
  static override description = `A watch is a small TypeScript program that handles kernel trace events (see "tw watches" for the installed ones).
With --input it replays a trace.dat recording (made by trace-cmd or tw) through the watch, merging the per-CPU streams in timestamp order, and prints what the watch's end() returns: as a table, or as JSON with --json.
Alerts the watch raises are printed to stderr as they happen (and included under "alerts" with --json).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> allcounts --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> syscalls --input examples/sample.dat --json',
    '<%= config.bin %> <%= command.id %> syscall-times 1234 --input trace.dat',
  ];
  static override strict = false;
  static override usage = '<%= command.id %> NAME [ARGS...] --input FILE [--json] [-B NAME] [-q]';
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'the watch to run (see: tw watches)', required: true }),
    args: Args.string({ description: 'the watch\'s own arguments, in order (see: tw watches)' }),
  };
  static override flags = {
    input: inputFlag,
    buffer: bufferFlag,
    quiet: Flags.boolean({ char: 'q', summary: 'Do not print alerts as they happen.' }),
  };

  async run(): Promise<unknown> {
    const { args, argv, flags } = await this.parse(Watch);
    const { watch } = await findWatch(this.config, args.name);
    const watchArgs = parseWatchArgs(watch, (argv as string[]).slice(1));
    if (!flags.input) throw new TwError('BAD_ARGUMENT', LIVE_NOT_YET);
    const json = this.jsonEnabled();
    const onAlert = (a: Alert) => {
      if (!flags.quiet && !json) this.logToStderr(`[${formatSeconds(a.ts)}] ${a.watch}: ${a.message}`);
    };
    const report = await replayFile(flags.input, [{ watch, args: watchArgs }], {
      onAlert,
      ...(flags.buffer ? { buffers: flags.buffer } : {}),
    });
    const result = report.outcomes[0]?.result;
    if (report.stats.lostUnknown > 0 && !json) {
      this.logToStderr(`tw: warning: ${report.stats.lostUnknown} sub-buffers report lost events without a count`);
    }
    if (!json) {
      if (watch.format && result !== undefined) this.log(watch.format(result));
      else if (result !== undefined) this.log(JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
      return result;
    }
    if (report.alerts.length > 0 && typeof result === 'object' && result !== null && !Array.isArray(result)) {
      return { ...result, alerts: report.alerts.map((a) => ({ ts: a.ts.toString(), watch: a.watch, message: a.message })) };
    }
    return result ?? {};
  }
}
