/**
 * Tee of a live session into a trace.dat file (tw record, tw watch --record): every sub-buffer
 * as read from the kernel goes to the writer untouched; at the end the process names tw knows
 * become the file's saved cmdlines, so a replay resolves comms as the live run did.
 *
 * Record sources (BPF probes) are stored as trace-cmd stores instances: one named buffer per
 * source (its name), holding the sub-buffers the session built from its records, and their
 * events' formats (system "tw", the ids the session gave them) among the file's formats. So a
 * replay (--input) decodes them as the live run did, and `trace-cmd report` prints them, fields
 * named, prefixed with the buffer's name.
 */
import type { Engine } from '../session/engine.js';
import { TraceDatWriter } from '../tracedat/write-trace-dat.js';
import { readTracefsMeta } from '../tracefs/meta.js';
import type { LiveInfo } from './types.js';

export class Recorder {
  private writer: TraceDatWriter | undefined;
  private failed: Error | undefined;
  private realtimeOffset: bigint | undefined;

  constructor(
    readonly path: string,
    readonly version: 6 | 7,
  ) {}

  readonly onReady = async (info: LiveInfo): Promise<void> => {
    this.realtimeOffset = info.realtimeOffset;
    const meta = await readTracefsMeta(info.instance.top, info.instance, [...info.events, ...info.lifecycle].map((e) => `${e.system}:${e.name}`));
    for (const src of info.sources) {
      for (const ev of src.events) {
        const list = meta.eventFormats.get(ev.system) ?? [];
        list.push(ev.format);
        meta.eventFormats.set(ev.system, list);
      }
    }
    if (info.sources.length > 0) meta.extraBuffers = info.sources.map((src) => src.name);
    this.writer = await TraceDatWriter.create(this.path, this.version, meta);
  };

  readonly onSubBuffer = (cpu: number, data: Uint8Array): void => {
    if (!this.writer || this.failed) return;
    try {
      this.writer.addSubBuffer(cpu, data);
    } catch (e) {
      this.failed = e as Error;
    }
  };

  /** A sub-buffer the session built from a record source's records (LiveOptions.onSourcePage). */
  readonly onSourcePage = (buffer: string, cpu: number, data: Uint8Array): void => {
    if (!this.writer || this.failed) return;
    try {
      this.writer.addSubBuffer(cpu, data, buffer);
    } catch (e) {
      this.failed = e as Error;
    }
  };

  /** Write the trailer (saved cmdlines from the process table); on failure remove the file. */
  async finish(engine: Engine | undefined): Promise<void> {
    if (!this.writer) return;
    if (this.failed) {
      await this.writer.abort();
      throw this.failed;
    }
    const lines: string[] = [];
    if (engine) for (const [pid, comm] of engine.procs.comms()) lines.push(`${pid} ${comm}`);
    try {
      await this.writer.finish({
        cmdlines: lines.join('\n') + '\n',
        ...(engine ? { tasks: engine.procs.tasksText() } : {}),
        ...(this.realtimeOffset !== undefined ? { realtimeOffset: this.realtimeOffset } : {}),
      });
    } catch (e) {
      await this.writer.abort();
      throw e;
    }
  }

  async abort(): Promise<void> {
    await this.writer?.abort();
  }
}
