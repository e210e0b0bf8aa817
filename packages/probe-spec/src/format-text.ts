/**
 * The format file of a probe's event tw:<name>, in the kernel's syntax, built from the spec's
 * packed layout: what the kernel publishes for the module's TRACE_EVENT. An event that has no
 * tracefs format of its own (a BPF probe's records) gets this one, so tw decodes it like any
 * other event and a trace.dat recording carries it (trace-cmd report prints the fields by name).
 */
import { layoutFor } from './layout.js';
import { modelOf, type ProbeSpec, type ScalarFieldType } from './spec.js';

const COMMON = [
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
];

/** C type, signedness and printf conversion of each scalar as the module declares it. */
const SCALAR: Record<ScalarFieldType, { c: string; signed: boolean; fmt: string }> = {
  u8: { c: 'u8', signed: false, fmt: '%u' },
  u16: { c: 'u16', signed: false, fmt: '%u' },
  u32: { c: 'u32', signed: false, fmt: '%u' },
  u64: { c: 'u64', signed: false, fmt: '%llu' },
  s8: { c: 's8', signed: true, fmt: '%d' },
  s16: { c: 's16', signed: true, fmt: '%d' },
  s32: { c: 's32', signed: true, fmt: '%d' },
  s64: { c: 's64', signed: true, fmt: '%lld' },
  bool: { c: 'u8', signed: false, fmt: '%u' },
  pid: { c: 'pid_t', signed: true, fmt: '%d' },
};

/** The format text of tw:<name> with this event id. */
export function eventFormatText(spec: ProbeSpec, id: number): string {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`event id ${id} is not a u16`);
  const m = modelOf(spec);
  const aliases = new Set(m.fields.filter((f) => f.alias).map((f) => f.name));
  const lines: string[] = [];
  const fmts: string[] = [];
  const argsOut: string[] = [];
  for (const e of layoutFor(spec)) {
    if (aliases.has(e.field)) continue; // the common_pid alias: no field of its own
    if (e.field.startsWith('__probe')) {
      lines.push(`\tfield:unsigned long ${e.field};\toffset:${e.offset};\tsize:8;\tsigned:0;`);
      fmts.push(`${e.field}=%lx`);
      argsOut.push(`REC->${e.field}`);
    } else if (e.type === 'string') {
      lines.push(`\tfield:__data_loc char[] ${e.field};\toffset:${e.offset};\tsize:4;\tsigned:0;`);
      fmts.push(`${e.field}=%s`);
      argsOut.push(`__get_str(${e.field})`);
    } else if (e.type === 'bytes') {
      lines.push(`\tfield:u8 ${e.field}[${e.size}];\toffset:${e.offset};\tsize:${e.size};\tsigned:0;`);
      fmts.push(`${e.field}=%s`);
      argsOut.push(`__print_hex(REC->${e.field}, ${e.size})`);
    } else {
      const s = SCALAR[e.type];
      lines.push(`\tfield:${s.c} ${e.field};\toffset:${e.offset};\tsize:${e.size};\tsigned:${s.signed ? 1 : 0};`);
      fmts.push(`${e.field}=${s.fmt}`);
      argsOut.push(`REC->${e.field}`);
    }
  }
  const print = `"${fmts.join(' ')}"${argsOut.length ? `, ${argsOut.join(', ')}` : ''}`;
  return `name: ${spec.name}\nID: ${id}\nformat:\n${COMMON.join('\n')}\n\n${lines.join('\n')}\n\nprint fmt: ${print}\n`;
}
