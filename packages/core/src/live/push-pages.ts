/**
 * A page source fed by a live reader: sub-buffers are queued as they arrive and handed to the
 * CPU's cursor one at a time; each is released back to the reader's pool as soon as the
 * cursor moves past it (it is a view into the pool, never copied).
 */
import type { PageSource } from '../tracedat/cpu-pages.js';

export class PushPages implements PageSource {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  size = 0;
  fileOffset = 0;
  private readonly queue: Array<{ data: Uint8Array; release: () => void }> = [];
  private release: (() => void) | undefined;
  private count = 0;

  push(data: Uint8Array, release: () => void): void {
    this.queue.push({ data, release });
  }

  get pending(): number {
    return this.queue.length;
  }

  next(): boolean {
    this.release?.();
    this.release = undefined;
    const item = this.queue.shift();
    if (!item) return false;
    this.buf = item.data;
    this.start = 0;
    this.size = item.data.length;
    this.fileOffset = this.count++ * item.data.length; // "offset" = sub-buffer number × size, for errors
    this.release = item.release;
    return true;
  }

  /** Release everything (end of the session). */
  close(): void {
    this.release?.();
    this.release = undefined;
    for (const q of this.queue.splice(0)) q.release();
  }
}
