/**
 * A page source fed by a live reader: sub-buffers are queued as they arrive and handed to the
 * CPU's cursor one at a time; each one's release() runs as soon as the cursor moves past it
 * (traceLive gives its page back to the slab it was copied into).
 */
import type { PageSource } from '../decode/page-source.js';

export class PushPages implements PageSource {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  size = 0;
  fileOffset = 0;
  // a FIFO as an array and a head index (Array.shift() moves every element: O(n) per page)
  private queue: Array<{ data: Uint8Array; release: () => void } | undefined> = [];
  private head = 0;
  private release: (() => void) | undefined;
  private count = 0;

  push(data: Uint8Array, release: () => void): void {
    this.queue.push({ data, release });
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  next(): boolean {
    this.release?.();
    this.release = undefined;
    if (this.head === this.queue.length) return false;
    const item = this.queue[this.head]!;
    this.queue[this.head++] = undefined;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
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
    const left = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const q of left) q?.release();
  }
}
