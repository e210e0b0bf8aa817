import { writeSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { TwError, dumpFile } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { LIVE_NOT_YET, bufferFlag, inputFlag } from '../lib/input.js';

export default class Dump extends TwCommand {
  static override summary = 'Print every event as one JSON object per line.';
  static override description = `Each line: {"ts":"<ns>","cpu":N,"pid":N,"comm":"...","event":"system:name","fields":{...}} (plus "buffer" for events of a named instance buffer), in timestamp order across CPUs.
ts is a decimal string of nanoseconds in the trace clock. Integers that fit in 53 bits are numbers, larger ones decimal strings; char arrays are strings; other arrays are arrays. Only the event's own fields are printed (common_pid is "pid").`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> --input examples/sample.dat | head',
    '<%= config.bin %> <%= command.id %> --input trace.dat -e signal:signal_generate -e "sched:sched_process_*"',
  ];
  static override flags = {
    input: inputFlag,
    buffer: bufferFlag,
    event: Flags.string({ char: 'e', summary: 'Only events matching system:event (globs allowed). Repeatable.', multiple: true, helpValue: 'SYSTEM:EVENT' }),
    limit: Flags.integer({ char: 'n', summary: 'Stop after this many events.', min: 1 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Dump);
    if (!flags.input) throw new TwError('BAD_ARGUMENT', LIVE_NOT_YET);
    const out = new LineWriter();
    try {
      await dumpFile(flags.input, (line) => out.write(line), {
        ...(flags.event ? { events: flags.event } : {}),
        ...(flags.buffer ? { buffers: flags.buffer } : {}),
        ...(flags.limit ? { limit: flags.limit } : {}),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return; // reader went away (| head)
      throw e;
    } finally {
      out.flush();
    }
  }
}

/**
 * Encodes lines into one reused 1 MiB buffer and writes it to fd 1 when full: no per-flush
 * strings or Buffers, so memory stays flat however many events are dumped.
 */
class LineWriter {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;

  write(line: string): void {
    // worst case 3 bytes per UTF-16 unit, plus the newline
    if (this.pos + line.length * 3 + 1 > this.buf.length) {
      this.flush();
      if (line.length * 3 + 1 > this.buf.length) {
        writeAll(Buffer.from(line + '\n'));
        return;
      }
    }
    this.pos += this.buf.write(line, this.pos);
    this.buf[this.pos++] = 10;
  }

  flush(): void {
    if (this.pos === 0) return;
    const n = this.pos;
    this.pos = 0;
    writeAll(this.buf.subarray(0, n));
  }
}

function writeAll(buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (e) {
      // stdout may be a non-blocking pipe: wait for the reader instead of failing
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw e;
    }
  }
}
