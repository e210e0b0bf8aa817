import { Flags } from '@oclif/core';
import { TwError, describeFile } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { LIVE_NOT_YET, bufferFlag, inputFlag } from '../lib/input.js';

export default class Events extends TwCommand {
  static override summary = 'List the events in a recording, with counts and formats.';
  static override description = 'Reads the whole file once; shows the file\'s metadata (version, compression, clock, CPUs, buffers) and, per event present, how many records it has. --formats adds every field (type, offset, size, signedness); --all lists every event format the file describes, not just those recorded.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> --input trace.dat --formats',
    '<%= config.bin %> <%= command.id %> --input trace.dat --json',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    input: inputFlag,
    buffer: bufferFlag,
    all: Flags.boolean({ summary: 'List every event format in the file, also those with no records.' }),
    formats: Flags.boolean({ char: 'f', summary: 'Show each event\'s fields.' }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(Events);
    if (!flags.input) throw new TwError('BAD_ARGUMENT', LIVE_NOT_YET);
    const d = await describeFile(flags.input, { all: flags.all, ...(flags.buffer ? { buffers: flags.buffer } : {}) });
    if (!this.jsonEnabled()) {
      this.log(`${d.path}: trace.dat v${d.version}, ${d.compression === 'none' ? 'uncompressed' : d.compression}, ${d.endianness}-endian, ${d.longSize * 8}-bit, page ${d.pageSize}`);
      this.log(`clock ${d.clock}, ${d.cpus} CPUs${d.arch ? `, ${d.arch}` : ''}${d.uname ? ` (${d.uname})` : ''}`);
      for (const b of d.buffers) this.log(`buffer ${b.name === '' ? '(top)' : b.name}: clock ${b.clock}, ${b.cpus} CPUs with data, ${b.bytes} bytes`);
      this.log(`${d.total} events, ${d.lost} lost, ${d.formats} formats\n`);
      const w = Math.max(5, ...d.events.map((e) => e.event.length));
      this.log(`${'EVENT'.padEnd(w)}  ${'ID'.padStart(5)}  ${'COUNT'.padStart(10)}`);
      for (const e of d.events) {
        this.log(`${e.event.padEnd(w)}  ${String(e.id).padStart(5)}  ${String(e.count).padStart(10)}`);
        if (flags.formats) {
          for (const f of e.fields) this.log(`    ${`${f.type} ${f.name};`.padEnd(44)} offset:${f.offset} size:${f.size} signed:${f.signed ? 1 : 0}`);
        }
      }
    }
    return d;
  }
}
