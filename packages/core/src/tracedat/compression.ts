/**
 * Decompressors for trace.dat v7 sections and CPU-data chunks. trace-cmd names the algorithm in
 * the file header ("zstd" or "zlib"); zstd blocks are complete zstd frames (ZSTD_compress2),
 * zlib blocks are zlib-wrapped deflate streams (compress2). Node 20 has zlib but no zstd, so
 * zstd frames are decoded by fzstd (pure JS).
 */
import { inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { TwError } from '../errors.js';

export type Decompressor = (input: Uint8Array, uncompressedSize: number, out?: Uint8Array) => Uint8Array;

export function decompressorFor(name: string, path: string): Decompressor {
  switch (name) {
    case 'zstd':
      return (input, size, out) => {
        const target = out && out.length >= size ? out.subarray(0, size) : new Uint8Array(size);
        let result: Uint8Array;
        try {
          result = zstdDecompress(input, target);
        } catch (e) {
          throw new TwError('CORRUPT_FILE', `${path}: a zstd-compressed block does not decompress: ${(e as Error).message}`, { cause: e });
        }
        if (result.length !== size) {
          throw new TwError('CORRUPT_FILE', `${path}: a zstd block decompressed to ${result.length} bytes, the file says ${size}`);
        }
        return result;
      };
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
