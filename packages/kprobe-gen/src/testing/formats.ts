/**
 * For tests: the format files the kernel would publish for a probe's event, built from the
 * generated files (not from layoutFor), so layout checks have an independent oracle.
 */
const HEADER = [
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
  '',
];

const C_TYPES: Record<string, { size: number; signed: boolean }> = {
  'unsigned long': { size: 8, signed: false },
  u64: { size: 8, signed: false }, s64: { size: 8, signed: true },
  u32: { size: 4, signed: false }, s32: { size: 4, signed: true }, pid_t: { size: 4, signed: true },
  u16: { size: 2, signed: false }, s16: { size: 2, signed: true },
  u8: { size: 1, signed: false }, s8: { size: 1, signed: true },
};

/**
 * The format file the kernel would publish for the module's TRACE_EVENT: what
 * trace_define_field() records for each TP_STRUCT__entry item, at the offsets the C compiler
 * gives struct trace_event_raw_<name> (natural alignment after the 8-byte struct trace_entry).
 * An oracle independent of layout.ts: it reads the generated header, not the spec.
 */
export function moduleFormat(traceH: string, name: string): string {
  const entry = /TP_STRUCT__entry\(\n([\s\S]*?)\n\t\),/.exec(traceH)![1]!;
  let off = 8;
  const lines = [...HEADER];
  const place = (size: number, align: number): number => {
    off = Math.ceil(off / align) * align;
    const at = off;
    off += size;
    return at;
  };
  for (const raw of entry.split('\n')) {
    const l = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^__field\((.+), (\w+)\)$/.exec(l))) {
      const t = C_TYPES[m[1]!]!;
      lines.push(`\tfield:${m[1]} ${m[2]};\toffset:${place(t.size, t.size)};\tsize:${t.size};\tsigned:${t.signed ? 1 : 0};`);
    } else if ((m = /^__string\((\w+), .+\)$/.exec(l))) {
      lines.push(`\tfield:__data_loc char[] ${m[1]};\toffset:${place(4, 4)};\tsize:4;\tsigned:0;`);
    } else if ((m = /^__array\(u8, (\w+), (\d+)\)$/.exec(l))) {
      lines.push(`\tfield:u8 ${m[1]}[${m[2]}];\toffset:${place(Number(m[2]), 1)};\tsize:${m[2]};\tsigned:0;`);
    } else throw new Error(`unexpected TP_STRUCT__entry line ${l}`);
  }
  return `name: ${name}\nID: 1501\nformat:\n${lines.join('\n')}\n\nprint fmt: "(%lx) …", REC->__probe_ip\n`;
}

/** The format the kernel publishes for a kprobe event: __probe_ip (or func/ret_ip), then the args packed in order. */
export function kprobeFormat(line: string, name: string): string {
  const parts = line.split(' ');
  const ret = parts[0]!.startsWith('r');
  const lines = [...HEADER];
  let off = 8;
  for (const h of ret ? ['__probe_func', '__probe_ret_ip'] : ['__probe_ip']) {
    lines.push(`\tfield:unsigned long ${h};\toffset:${off};\tsize:8;\tsigned:0;`);
    off += 8;
  }
  for (const arg of parts.slice(2)) {
    const m = /^(\w+)=.*:(\w+)(?:\[(\d+)\])?$/.exec(arg)!;
    const [, fname, type, count] = m;
    if (type === 'string' || type === 'ustring') {
      lines.push(`\tfield:__data_loc char[] ${fname};\toffset:${off};\tsize:4;\tsigned:1;`);
      off += 4;
    } else {
      const size = Number(type!.slice(1)) / 8;
      const n = count ? Number(count) : 1;
      lines.push(`\tfield:${type} ${fname}${count ? `[${count}]` : ''};\toffset:${off};\tsize:${size * n};\tsigned:${type!.startsWith('s') ? 1 : 0};`);
      off += size * n;
    }
  }
  return `name: ${name}\nID: 1502\nformat:\n${lines.join('\n')}\n\nprint fmt: "(%lx)", REC->__probe_ip\n`;
}
