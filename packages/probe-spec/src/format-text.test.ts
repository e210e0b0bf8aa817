import { parseEventFormat } from '@tw/core';
import { describe, expect, it } from 'vitest';
import { eventFormatText } from './format-text.js';
import { checkFormatLayout, layoutFor } from './layout.js';
import { defineProbe } from './spec.js';

const specs = [
  defineProbe({
    name: 'mix',
    attach: { kprobe: 'vfs_open' },
    args: [{ name: 'path', type: 'const struct path *' }],
    fields: [
      { name: 'pid', type: 'pid', from: 'pid' },
      { name: 'flags', type: 'u32', from: '1' },
      { name: 'big', type: 's64', from: '2' },
      { name: 'ok', type: 'bool', from: '1' },
      { name: 'comm', type: { string: 16 }, from: 'comm' },
      { name: 'raw', type: { bytes: 6 }, from: '0' },
    ],
  }),
];

describe('eventFormatText', () => {
  for (const spec of specs) {
    it(`${spec.name}: the kernel's format syntax, parsed by tw, matching the spec's layout`, () => {
      const text = eventFormatText(spec, 0xff01);
      const fmt = parseEventFormat(text, `tw/${spec.name}/format`, 'tw');
      expect(fmt.id).toBe(0xff01);
      expect(fmt.fullName).toBe(`tw:${spec.name}`);
      expect(() => checkFormatLayout(spec, fmt)).not.toThrow();
      // every stored field, the probe header included, is in the format at its layout offset
      for (const e of layoutFor(spec).filter((x) => x.field !== 'pid')) expect(fmt.fields.find((f) => f.name === e.field)?.offset, e.field).toBe(e.offset);
      expect(text).toMatch(/^print fmt: "__probe_ip=%lx .*comm=%s.*", REC->__probe_ip, .*__get_str\(comm\).*__print_hex\(REC->raw, 6\)/m);
    });
  }

  it('refuses an id that is not a u16', () => {
    expect(() => eventFormatText(specs[0]!, 70000)).toThrow(RangeError);
  });
});
