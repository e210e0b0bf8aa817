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
  /** streams with no pending record: exhausted (offline) or waiting for more pages (live) */
  private parked: CpuStream[];
  private current: CpuStream | undefined;
  private started = false;

  constructor(streams: readonly CpuStream[]) {
    streams.forEach((s, i) => this.order.set(s, i));
    this.parked = [...streams];
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

  /**
   * Give parked streams another chance (live: new pages may have arrived). Offline this is
   * done once, at the start.
   */
  refill(): void {
    this.started = true;
    this.advanceCurrent();
    const still: CpuStream[] = [];
    for (const s of this.parked) {
      if (s.advance()) {
        this.heap.push(s);
        this.siftUp(this.heap.length - 1);
      } else {
        still.push(s);
      }
    }
    this.parked = still;
  }

  private advanceCurrent(): void {
    const cur = this.current;
    if (!cur) return;
    this.current = undefined;
    const h = this.heap;
    if (cur.advance()) {
      this.siftDown(0);
    } else {
      const last = h.pop()!;
      if (h.length > 0) {
        h[0] = last;
        this.siftDown(0);
      }
      this.parked.push(cur);
    }
  }

  /**
   * The stream holding the earliest record not yet handed out by next(), or undefined when no
   * record is pending (live: the watermark held it back, or no pages have arrived). Call after
   * next() has returned undefined; it does not move anything.
   */
  pending(): CpuStream | undefined {
    return this.current === undefined ? this.heap[0] : undefined;
  }

  /**
   * The stream holding the earliest pending record, or undefined when none is pending — or,
   * with a limit (live watermark, as 32-bit halves), when the earliest is not before the limit.
   */
  next(limitHi = Infinity, limitLo = 0): CpuStream | undefined {
    if (!this.started) this.refill();
    else this.advanceCurrent();
    const top = this.heap[0];
    if (top === undefined) return undefined;
    const c = top.cursor;
    if (c.tsHi > limitHi || (c.tsHi === limitHi && c.tsLo >= limitLo)) return undefined;
    this.current = top;
    return top;
  }
}
