/**
 * One CPU's record stream: a page source feeding a reusable SubBufferCursor, with the CPU's
 * missed-event accounting. Used the same way for trace.dat data and (later) live sub-buffers.
 */
import type { PageSource } from './page-source.js';
import { SubBufferCursor, type KbufferLayout } from './kbuffer.js';

export class CpuStream {
  readonly cursor: SubBufferCursor;
  /** events the kernel reported as lost before pages of this stream (stored counts) */
  lost = 0;
  /** pages that flagged lost events without storing how many */
  lostUnknown = 0;
  pages = 0;

  constructor(
    readonly cpu: number,
    /** the buffer (instance) name; "" for the top-level buffer */
    readonly buffer: string,
    private readonly source: PageSource,
    layout: KbufferLayout,
  ) {
    this.cursor = new SubBufferCursor(layout, cpu);
  }

  /** Step to the next record, loading pages as needed. False when the stream is exhausted. */
  advance(): boolean {
    const cursor = this.cursor;
    while (!cursor.next()) {
      const src = this.source;
      if (!src.next()) return false;
      cursor.load(src.buf, src.start, src.size, src.fileOffset);
      this.pages++;
      const missed = cursor.missed;
      if (missed > 0) this.lost += missed;
      else if (missed < 0) this.lostUnknown++;
    }
    return true;
  }
}
