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

/** Batches lines into ~64 KiB writes on fd 1. */
class LineWriter {
  private parts: string[] = [];
  private size = 0;
  private closed = false;

  write(line: string): void {
    this.parts.push(line);
    this.size += line.length + 1;
    if (this.size >= 65536) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0 || this.closed) return;
    const text = this.parts.join('\n') + '\n';
    this.parts = [];
    this.size = 0;
    writeAll(text, () => {
      this.closed = true;
    });
  }
}

import { writeSync } from 'node:fs';

function writeAll(text: string, onEpipe: () => void): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') {
        onEpipe();
        const err = new Error('EPIPE') as NodeJS.ErrnoException;
        err.code = 'EPIPE';
        throw err;
      }
      throw e;
    }
  }
}
