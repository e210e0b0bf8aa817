/**
 * Writing to a file descriptor synchronously (stdout for tw dump's lines and tw watch's alert
 * lines): the bytes are out when the call returns, in the order of the calls.
 */
import { writeSync } from 'node:fs';

/** Write all of `buf` to `fd`; a non-blocking pipe that is full is waited for, not failed. EPIPE throws. */
export function writeAllSync(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      // stdout may be a non-blocking pipe: wait for the reader instead of failing
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw e;
    }
  }
}
