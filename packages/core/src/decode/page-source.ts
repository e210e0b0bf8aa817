/**
 * Where a CPU's sub-buffers come from, one at a time: the decoder's input (libtraceevent's
 * kbuffer is loaded the same way, one page after another). trace.dat files (tracedat/cpu-pages)
 * and live readers (live/push-pages) implement it; decode/ depends on nothing behind it.
 */
export interface PageSource {
  /** Move to the next sub-buffer. False when the CPU's data is exhausted. */
  next(): boolean;
  /** the bytes the current sub-buffer lives in; start/size locate it */
  buf: Uint8Array;
  start: number;
  size: number;
  /** the file offset of the current sub-buffer (or of its chunk, when compressed), for errors */
  fileOffset: number;
}
