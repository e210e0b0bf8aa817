/**
 * Decompressors for trace.dat v7 sections and CPU-data chunks. trace-cmd names the algorithm in
 * the file header ("zstd" or "zlib"); zstd blocks are complete zstd frames (ZSTD_compress2),
 * zlib blocks are zlib-wrapped deflate streams (compress2). Node 20 has zlib but no zstd, so
 * zstd frames are decoded by zstddec (the reference zstd decoder compiled to WebAssembly; its
 * instance is created once, asynchronously, the first time a zstd file is opened).
 */
import { inflateSync } from 'node:zlib';
import { ZSTDDecoder } from 'zstddec';
import { TwError } from '../errors.js';
import { quoted } from '../quote.js';

export type Decompressor = (input: Uint8Array, uncompressedSize: number, out?: Uint8Array) => Uint8Array;

let zstd: Promise<ZSTDDecoder> | undefined;

/**
 * The most one compressed block may claim to hold. trace-cmd compresses sections whole and CPU
 * data in chunks of a few pages; the largest real block is a kernel's kallsyms (tens of MiB).
 * A size field beyond this is corrupt or crafted, and trusting it would allocate that much.
 */
export const MAX_BLOCK_BYTES = 128 * 1024 * 1024;

function checkSize(path: string, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_BLOCK_BYTES) {
    throw new TwError('CORRUPT_FILE', `${path}: a compressed block claims ${size} bytes uncompressed; tw takes at most ${MAX_BLOCK_BYTES} (128 MiB) per block`);
  }
}

/** The decompressor for an algorithm name from a trace.dat header. */
export async function decompressorFor(name: string, path: string): Promise<Decompressor> {
  switch (name) {
    case 'zstd': {
      zstd ??= (async () => {
        const d = new ZSTDDecoder();
        await d.init();
        return d;
      })();
      const decoder = await zstd;
      return (input, size) => {
        checkSize(path, size);
        let result: Uint8Array;
        try {
          result = decoder.decode(input, size);
        } catch (e) {
          throw new TwError('CORRUPT_FILE', `${path}: a zstd-compressed block does not decompress: ${(e as Error).message}`, { cause: e });
        }
        if (result.length !== size) {
          throw new TwError('CORRUPT_FILE', `${path}: a zstd block decompressed to ${result.length} bytes, the file says ${size}`);
        }
        return result;
      };
    }
    case 'zlib':
      return (input, size) => {
        checkSize(path, size);
        let result: Buffer;
        try {
          // never more than the block claims (+1 to see that it was more): no inflate bomb
          result = inflateSync(input, { maxOutputLength: Math.max(1, size + 1) });
        } catch (e) {
          throw new TwError('CORRUPT_FILE', `${path}: a zlib-compressed block does not decompress: ${(e as Error).message}`, { cause: e });
        }
        if (result.length !== size) {
          throw new TwError('CORRUPT_FILE', `${path}: a zlib block decompressed to ${result.length} bytes, the file says ${size}`);
        }
        return result;
      };
    default:
      throw new TwError('UNSUPPORTED_COMPRESSION', `${path}: compressed with ${quoted(name)}; tw reads zstd and zlib`);
  }
}
