import { describe, expect, it } from 'vitest';
import { bpfRecords } from './bpf-records.js';

/** A batch as the addon lays it out (little-endian host), one line per field. */
function batch(): Uint8Array {
  const b = new Uint8Array(80);
  const dv = new DataView(b.buffer);
  // record 1: 12 bytes after the head, padded to 32
  dv.setBigUint64(0, 1000n, true); //  ts
  dv.setUint32(8, 3, true); //          cpu
  dv.setUint32(12, 12, true); //        len
  dv.setUint16(16, 0, true); //         common_type
  dv.setInt32(20, 4242, true); //       common pid
  dv.setUint32(24, 7, true); //         payload (4 bytes); 28..31 padding
  // record 2: 8 bytes after the head (a common header, no payload), at 32, ends at 56
  dv.setBigUint64(32, 2000n, true); //  ts
  dv.setUint32(40, 0, true); //         cpu
  dv.setUint32(44, 8, true); //         len
  dv.setInt32(52, 1, true); //          common pid
  // record 3 at 56: 24 bytes after the head: ends at 96, past the batch's 80
  dv.setBigUint64(56, 3000n, true);
  dv.setUint32(68, 24, true);
  return b;
}

describe('bpfRecords', () => {
  it('walks the records 8-byte aligned, payloads as views', () => {
    const b = batch();
    const it = bpfRecords(b.subarray(0, 56));
    const r1 = it.next().value!;
    expect(r1.ts).toBe(1000n);
    expect(r1.cpu).toBe(3);
    expect(r1.data.byteLength).toBe(12);
    expect(r1.data.buffer).toBe(b.buffer); // a view, not a copy
    expect(new DataView(r1.data.buffer, r1.data.byteOffset).getInt32(4, true)).toBe(4242);
    const r2 = it.next().value!;
    expect([r2.ts, r2.cpu, r2.data.byteLength]).toEqual([2000n, 0, 8]);
    expect(it.next().done).toBe(true);
  });

  it('refuses a record that runs past the batch', () => {
    expect(() => [...bpfRecords(batch())]).toThrow('relay-native: BPF record at offset 56 claims 24 bytes, past the batch\'s 80');
  });
});
