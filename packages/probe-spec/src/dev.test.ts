import { describe, expect, it } from 'vitest';
import { decodeKernelDev, decodeUserDev, encodeKernelDev, kernelDevToUser, userDevToKernel } from './dev.js';

// sda1 is 8:1; 259:300 has bits in the high minor (glibc makedev: minor bits 8.. go to 20..)
const SDA1_USER = 0x801;
const SDA1_KERNEL = (8 << 20) | 1; // 8388609
const NVME_USER = 44 | (259 << 8) | (256 << 12); // 1114924
const NVME_KERNEL = ((259 << 20) | 300) >>> 0; // 271581484

describe('device numbers', () => {
  it('kernel dev_t is MAJOR << 20 | MINOR', () => {
    expect(encodeKernelDev(8, 1)).toBe(SDA1_KERNEL);
    expect(decodeKernelDev(SDA1_KERNEL)).toEqual({ major: 8, minor: 1 });
    expect(decodeKernelDev(BigInt(NVME_KERNEL))).toEqual({ major: 259, minor: 300 });
  });

  it('userspace st_dev (glibc makedev) converts both ways', () => {
    expect(decodeUserDev(SDA1_USER)).toEqual({ major: 8, minor: 1 });
    expect(decodeUserDev(BigInt(NVME_USER))).toEqual({ major: 259, minor: 300 });
    expect(userDevToKernel(SDA1_USER)).toBe(SDA1_KERNEL);
    expect(userDevToKernel(NVME_USER)).toBe(NVME_KERNEL);
    expect(kernelDevToUser(SDA1_KERNEL)).toBe(SDA1_USER);
    expect(kernelDevToUser(NVME_KERNEL)).toBe(NVME_USER);
  });
});
