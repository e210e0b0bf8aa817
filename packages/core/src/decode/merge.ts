/**
 * K-way merge of per-CPU record streams by timestamp (a binary min-heap on the cursors' 64-bit
 * time kept as two 32-bit halves). Ties go to the stream added first (lower CPU), so the order is
 * deterministic. Usage: `for (let s = m.next(); s; s = m.next()) use(s.cursor)` — the record a
 * returned stream's cursor points at is valid until the following next() call.
 */
import type { CpuStream } from './cpu-stream.js';

export class Merger {
  private readonly heap: CpuStream[] = [];
  private readonly order = new Map<CpuStream, number>();
  private current: CpuStream | undefined;
  private started = false;

  constructor(private readonly streams: readonly CpuStream[]) {
    streams.forEach((s, i) => this.order.set(s, i));
  }

  private less(a: CpuStream, b: CpuStream): boolean {
    const ca = a.cursor;
    const cb = b.cursor;
    if (ca.tsHi !== cb.tsHi) return ca.tsHi < cb.tsHi;
    if (ca.tsLo !== cb.tsLo) return ca.tsLo < cb.tsLo;
    return this.order.get(a)! < this.order.get(b)!;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.less(h[r]!, h[l]!) ? r : l;
      if (!this.less(h[m]!, h[i]!)) return;
      const t = h[i]!;
      h[i] = h[m]!;
      h[m] = t;
      i = m;
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) return;
      const t = h[i]!;
      h[i] = h[p]!;
      h[p] = t;
      i = p;
    }
  }

  /** The stream holding the earliest pending record, or undefined when all are exhausted. */
  next(): CpuStream | undefined {
    if (!this.started) {
      this.started = true;
      for (const s of this.streams) {
        if (s.advance()) {
          this.heap.push(s);
          this.siftUp(this.heap.length - 1);
        }
      }
    } else if (this.current) {
      const h = this.heap;
      if (this.current.advance()) {
        this.siftDown(0);
      } else {
        const last = h.pop()!;
        if (h.length > 0) {
          h[0] = last;
          this.siftDown(0);
        }
      }
    }
    this.current = this.heap[0];
    return this.current;
  }
}
