/**
 * Walks the record framing of a BPF batch (see bpf-types.ts for the layout). Payloads are
 * views (subarray) into the batch, valid as long as the batch is: nothing is copied.
 */

/** u64 ts, u32 cpu, u32 len */
export const BPF_RECORD_HEAD = 16;
/** records start at multiples of this */
export const BPF_RECORD_ALIGN = 8;

export interface BpfRecord {
  /** CLOCK_MONOTONIC, ns */
  ts: bigint;
  cpu: number;
  /** the len bytes after the head: common header, then payload (a view) */
  data: Uint8Array;
}

/** The records of a batch, in order. Throws if a record's len runs past the batch. */
export function* bpfRecords(batch: Uint8Array): Generator<BpfRecord> {
  const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  let pos = 0;
  while (pos + BPF_RECORD_HEAD <= batch.byteLength) {
    const len = dv.getUint32(pos + 12, le);
    const end = pos + BPF_RECORD_HEAD + len;
    if (end > batch.byteLength) throw new Error(`relay-native: BPF record at offset ${pos} claims ${len} bytes, past the batch's ${batch.byteLength}`);
    yield { ts: dv.getBigUint64(pos, le), cpu: dv.getUint32(pos + 8, le), data: batch.subarray(pos + BPF_RECORD_HEAD, end) };
    pos = (end + BPF_RECORD_ALIGN - 1) & ~(BPF_RECORD_ALIGN - 1);
  }
}
