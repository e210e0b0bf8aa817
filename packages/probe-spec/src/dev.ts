/**
 * Device numbers: the dev(x) built-in records the kernel's internal dev_t (MAJOR << 20 | MINOR),
 * the same on both backends. stat(2) (Node's fs.Stats.dev) uses the userspace encoding
 * (glibc makedev: minor bits 0-7 and 20-31, major bits 8-19 and 32-43). Convert before comparing.
 */

export interface DevNumber {
  readonly major: number;
  readonly minor: number;
}

/** Kernel dev_t (MAJOR << 20 | MINOR) → major/minor. */
export function decodeKernelDev(dev: number | bigint): DevNumber {
  const d = Number(dev) >>> 0;
  return { major: d >>> 20, minor: d & 0xfffff };
}

/** major/minor → kernel dev_t (MAJOR << 20 | MINOR). */
export function encodeKernelDev(major: number, minor: number): number {
  return (((major & 0xfff) << 20) | (minor & 0xfffff)) >>> 0;
}

/** Userspace st_dev (as fs.statSync().dev or stat -c %d print it) → major/minor. */
export function decodeUserDev(dev: number | bigint): DevNumber {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return { major, minor };
}

/** Userspace st_dev → the kernel dev_t the dev(x) built-in records. */
export function userDevToKernel(dev: number | bigint): number {
  const { major, minor } = decodeUserDev(dev);
  return encodeKernelDev(major, minor);
}

/** Kernel dev_t → userspace st_dev (to compare with fs.Stats.dev). */
export function kernelDevToUser(dev: number | bigint): number {
  const { major, minor } = decodeKernelDev(dev);
  return Number((BigInt(minor & 0xff)) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n));
}
