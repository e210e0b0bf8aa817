import { Args, Flags } from '@oclif/core';
import { Tracefs, checkTracefsAccess, describeFile, findTracefs, globToRegExp } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { bufferFlag, inputFlag } from '../lib/input.js';
import { checkLiveOnlyFlags } from '../lib/live-only.js';

export default class Events extends TwCommand {
  static override summary = 'List the events of the running kernel, or of a recording with counts.';
  static override description = 'Without --input: the events this kernel offers (from tracefs; needs root). With --input: reads the whole file once; shows the file\'s metadata (version, compression, clock, CPUs, buffers) and, per event present, how many records it has. Either way PATTERN keeps only the events matching it (system:event, globs allowed; a bare system means system:*). --formats adds every field (type, offset, size, signedness); --all lists every event format the file describes, not just those recorded.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> "sched:*" --formats',
    '<%= config.bin %> <%= command.id %> --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> "syscalls:sys_enter_*" --input examples/sample.dat',
    '<%= config.bin %> <%= command.id %> --input trace.dat --formats',
    '<%= config.bin %> <%= command.id %> --input trace.dat --json',
  ];
  static override enableJsonFlag = true;
  static override args = {
    pattern: Args.string({ description: 'only events matching system:event (globs allowed; a bare system means system:*), live or in the recording' }),
  };
  static override flags = {
    input: inputFlag,
    buffer: bufferFlag,
    all: Flags.boolean({ summary: 'List every event format in the file, also those with no records.' }),
    formats: Flags.boolean({ char: 'f', summary: 'Show each event\'s fields.' }),
  };

  async run(): Promise<unknown> {
    const { args, flags, raw } = await this.parse(Events);
    checkLiveOnlyFlags(flags, raw);
    if (!flags.input) return this.kernelEvents(args.pattern, flags.formats);
    const file = await describeFile(flags.input, { all: flags.all, ...(flags.buffer ? { buffers: flags.buffer } : {}) });
    const re = args.pattern === undefined ? undefined : patternRegExp(args.pattern);
    const d = re ? { ...file, events: file.events.filter((e) => re.test(e.event)), pattern: args.pattern } : file;
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
      if (args.pattern !== undefined) {
        const records = d.events.reduce((n, e) => n + e.count, 0);
        this.log(`\n${d.events.length} events match ${args.pattern} (${records} of the ${d.total} records)`);
      }
    }
    return d;
  }

  /** The running kernel's events (available_events), with formats on request. */
  private kernelEvents(pattern: string | undefined, formats: boolean): unknown {
    const root = findTracefs();
    checkTracefsAccess(root);
    const top = new Tracefs(root);
    const re = pattern ? patternRegExp(pattern) : undefined;
    const events = top
      .availableEvents()
      .filter((l) => !re || re.test(l))
      .sort()
      .map((event) => {
        const [sys, name] = event.split(':') as [string, string];
        return formats ? { event, format: top.eventFormat(sys, name).text } : { event };
      });
    if (!this.jsonEnabled()) {
      for (const e of events) {
        this.log(e.event);
        if ('format' in e) this.log(e.format.replace(/^/gm, '    '));
      }
      this.log(`\n${events.length} events${pattern ? ` matching ${pattern}` : ''} (trace one: tw dump -e <event> --duration 5s)`);
    }
    return { events };
  }
}

/** PATTERN of tw events: system:event with globs; a bare system means all of its events. */
function patternRegExp(pattern: string): RegExp {
  return globToRegExp(pattern.includes(':') ? pattern : `${pattern}:*`);
}
