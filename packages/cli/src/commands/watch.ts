import { Args, Flags } from '@oclif/core';
import { TwError, WatchSession, declaredEvents, formatSeconds, parseWatchArgs, replayFile, traceLive, unreachableHandlers, type Alert, type AnyWatch, type Engine, type ProbeUnpacker, type RunReport, type CpuLoss } from '@tw/core';
import type { ProbeSpec } from '@tw/kprobe-gen';
import { Recorder } from '../lib/recorder.js';
import { findProbe, probeUnpacker, probeUp, type ActiveProbe, type ProbeBackend } from '../lib/probes.js';
import { TwCommand } from '../lib/base.js';
import { bufferFlag, inputFlag } from '../lib/input.js';
import { LiveRun, liveFlags } from '../lib/live.js';
import { checkLiveOnlyFlags } from '../lib/live-only.js';
import { findWatch } from '../lib/watches.js';

/** Only custom_event handlers see unpacked payloads: without one there is nothing to import. */
function wantsPayloads(watch: AnyWatch): boolean {
  return Object.prototype.hasOwnProperty.call(watch.on, 'custom_event');
}

export default class Watch extends TwCommand {
  static override summary = 'Run a watch on the live kernel or on a recording, and print its result.';
  static override description = `A watch is a small TypeScript program that handles kernel trace events (see "tw watches" for the installed ones).
Live (needs root): tw creates its own tracefs instance, enables only the events the watch declares (with its kernel-side filters), reads every CPU's ring buffer and feeds the events to the watch in timestamp order until the watch calls stop(), --duration passes, or Ctrl-C (a second Ctrl-C forces exit). The instance is removed on every exit path.
With --input it replays a whole trace.dat recording (made by trace-cmd or tw) instead; the live options (--duration, --clock, --buffer-kb, --latency, --backend, --[no-]rt-readers, --probe-backend, --record) are an error with it.
It prints what the watch's end() returns: as a table, or as JSON with --json (every shipped watch's includes "lost": events the kernel dropped, which the result may miss). Alerts are printed to stderr as they happen (and returned under "alerts" with --json).
When the kernel lost events live, a warning per CPU on stderr says why (tw fell behind, its reader ran late, or the kernel could not store them) and what helps ("losses" in --json: the kernel's counts next to the reader's).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> syscalls --duration 5',
    '<%= config.bin %> <%= command.id %> syscall-times 1234 --duration 30s --json',
    '<%= config.bin %> <%= command.id %> allcounts --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> syscalls --input examples/sample.dat --json',
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
    quiet: Flags.boolean({ char: 'q', summary: 'Do not print alerts as they happen.' }),
    'probe-backend': Flags.string({ summary: 'Live: how to load the probes a watch declares: module, kprobe-events, or auto.', default: 'auto', options: ['auto', 'module', 'kprobe-events'] }),
    record: Flags.string({ char: 'r', summary: 'Live: also write the traced events to this trace.dat file (replay it with --input).', helpValue: 'FILE' }),
    ...liveFlags,
  };

  /**
   * The generated unpackers of these probes, by event; a probe whose unpacker cannot be had is
   * left out (its events reach custom_event decoded from their format) with a note saying why.
   */
  private async unpackers(specs: readonly ProbeSpec[], note: (m: string) => void): Promise<Map<string, ProbeUnpacker>> {
    const out = new Map<string, ProbeUnpacker>();
    for (const spec of specs) {
      const event = `tw:${spec.name}`;
      try {
        const u = await probeUnpacker(spec, (why) => note(`${event}: not using the generated unpacker (${why}); custom_event gets data decoded from the format`));
        out.set(u.event, u.unpacker);
      } catch (e) {
        note(`${event}: no generated unpacker (${(e as Error).message.split('\n')[0]}); custom_event gets data decoded from the format`);
      }
    }
    return out;
  }

  async run(): Promise<unknown> {
    const { args, argv, flags, raw } = await this.parse(Watch);
    checkLiveOnlyFlags(flags, raw, ['probe-backend']);
    const { watch } = await findWatch(this.config, args.name);
    const watchArgs = parseWatchArgs(watch, (argv as string[]).slice(1));
    for (const p of unreachableHandlers(watch, watchArgs)) process.stderr.write(`tw: warning: watch '${watch.name}': ${p.message}\n`);
    const json = this.jsonEnabled();
    const onAlert = (a: Alert) => {
      if (!flags.quiet && !json) this.logToStderr(`[${formatSeconds(a.ts)}] ${a.watch}: ${a.message}`);
    };
    let report: RunReport;
    let losses: CpuLoss[] = [];
    if (flags.input && flags.record) throw new TwError('BAD_ARGUMENT', '--record applies to live tracing; a recording given with --input is already a file');
    const note = (m: string) => {
      if (!json) this.logToStderr(`tw: note: ${m}`);
    };
    if (flags.input) {
      // the recording's tw:* events get the generated unpackers of the probes the watch declares
      // where the recording's format of the event fits the spec's layout (checked per file)
      const specs: ProbeSpec[] = [];
      if (wantsPayloads(watch)) {
        for (const name of watch.probes ?? []) {
          try {
            specs.push((await findProbe(this.config, name)).spec);
          } catch (e) {
            note(`probe '${name}': ${(e as Error).message.split('\n')[0]}; its events reach custom_event decoded from the recording's format`);
          }
        }
      }
      const unpackers = await this.unpackers(specs, note);
      report = await replayFile(flags.input, [{ watch, args: watchArgs }], {
        onAlert,
        ...(flags.buffer ? { buffers: flags.buffer } : {}),
        ...(unpackers.size > 0 ? { unpackers } : {}),
      });
    } else {
      const recorder = flags.record ? new Recorder(flags.record, 7) : undefined;
      const run = new LiveRun(flags, !json);
      let engineRef: Engine | undefined;
      const events = declaredEvents(watch, watchArgs);
      const probes: ActiveProbe[] = [];
      try {
        // the dynamic probes the watch declares: loaded now, unloaded in finally
        for (const name of watch.probes ?? []) {
          try {
            const { spec } = await findProbe(this.config, name);
            const p = await probeUp(spec, { backend: flags['probe-backend'] as ProbeBackend | 'auto' });
            probes.push(p);
            for (const n of p.notes) note(`probe '${name}': ${n}`);
          } catch (e) {
            // a probe that only offers an alternative to a static event may be missing
            const optional = events.some((p) => p.split('|').length > 1 && p.split('|').includes(`tw:${name}`));
            if (!optional) throw e;
            if (!json) this.logToStderr(`tw: note: probe '${name}' is not available (${(e as Error).message.split('\n')[0]}); using the static events instead`);
          }
        }
        // the probes are up and their layout checked: custom_event gets their generated unpackers
        const unpackers = wantsPayloads(watch) ? await this.unpackers(probes.map((p) => p.spec), note) : new Map<string, ProbeUnpacker>();
        const filters: Record<string, string> = watch.filter ? { ...watch.filter(watchArgs as never) } : {};
        for (const p of probes) if (p.filter) filters[`tw:${p.spec.name}`] = p.filter;
        const live = await traceLive(
          run.options({
            events,
            filters,
            ...(recorder ? { onSubBuffer: recorder.onSubBuffer } : {}),
            onReady: async (info) => {
              if (info.fallbackReason && !json) this.logToStderr(`tw: note: using the ${info.backend} reader (${info.fallbackReason})`);
              await recorder?.onReady(info);
            },
          }),
          (engine, info) => {
            engineRef = engine;
            const session = new WatchSession(engine, [{ watch, args: watchArgs }], {
              mode: 'live',
              onAlert: (a) => {
                run.status.clear();
                onAlert(a);
              },
              extraLost: () => Math.max(0, info.instance.lostEvents(info.cpus) - engine.stats.lost),
              ...(unpackers.size > 0 ? { unpackers } : {}),
            });
            return { start: () => session.start(), visit: session.visit, finish: () => session.finish() };
          },
        );
        report = live.result;
        losses = live.losses;
        run.warnLosses(live);
        await recorder?.finish(engineRef);
      } catch (e) {
        await recorder?.abort();
        throw e;
      } finally {
        run.dispose();
        for (const p of probes.reverse()) {
          try {
            await p.unload();
          } catch (e) {
            this.logToStderr(`tw: could not unload probe '${p.spec.name}': ${(e as Error).message}`);
          }
        }
      }
    }
    const result = report.outcomes[0]?.result;
    // (live, the kernel's own counts said it per CPU already)
    if (report.stats.lostUnknown > 0 && losses.length === 0 && !json) {
      this.logToStderr(`tw: warning: ${report.stats.lostUnknown} sub-buffers report lost events without a count`);
    }
    if (!json) {
      if (watch.format && result !== undefined) this.log(watch.format(result));
      else if (result !== undefined) this.log(JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
      return result;
    }
    if ((report.alerts.length > 0 || losses.length > 0) && typeof result === 'object' && result !== null && !Array.isArray(result)) {
      return {
        ...result,
        ...(report.alerts.length > 0 ? { alerts: report.alerts.map((a) => ({ ts: a.ts.toString(), watch: a.watch, message: a.message })) } : {}),
        ...(losses.length > 0 ? { losses } : {}),
      };
    }
    return result ?? {};
  }
}
