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

export type Decompressor = (input: Uint8Array, uncompressedSize: number, out?: Uint8Array) => Uint8Array;

let zstd: Promise<ZSTDDecoder> | undefined;

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
        let result: Buffer;
        try {
          result = inflateSync(input);
        } catch (e) {
          throw new TwError('CORRUPT_FILE', `${path}: a zlib-compressed block does not decompress: ${(e as Error).message}`, { cause: e });
        }
        if (result.length !== size) {
          throw new TwError('CORRUPT_FILE', `${path}: a zlib block decompressed to ${result.length} bytes, the file says ${size}`);
        }
        return result;
      };
    default:
      throw new TwError('UNSUPPORTED_COMPRESSION', `${path}: compressed with '${name}'; tw reads zstd and zlib`);
  }
}
