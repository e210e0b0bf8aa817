/**
 * Sub-buffer-sized pages cut from ~1 MiB ArrayBuffers and handed out again when given back:
 * the live copies of sub-buffers cost no allocation once the slab has grown to rate x latency.
 */
export class PageSlab {
  private readonly free: Uint8Array[] = [];
  private readonly perChunk: number;

  constructor(private readonly size: number) {
    this.perChunk = Math.max(1, Math.floor((1 << 20) / size));
  }

  take(): Uint8Array {
    let page = this.free.pop();
    if (page === undefined) {
      const chunk = new ArrayBuffer(this.size * this.perChunk);
      for (let i = 1; i < this.perChunk; i++) this.free.push(new Uint8Array(chunk, i * this.size, this.size));
      page = new Uint8Array(chunk, 0, this.size);
    }
    return page;
  }

  give(page: Uint8Array): void {
    this.free.push(page);
  }
}
