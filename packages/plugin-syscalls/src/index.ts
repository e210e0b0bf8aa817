import type { AnyWatch } from '@tw/core';
import allcounts from './watches/allcounts.js';
import syscallTimes from './watches/syscall-times.js';
import syscalls from './watches/syscalls.js';
import syscallsByPid from './watches/syscalls-by-pid.js';

export { allcounts, syscalls, syscallsByPid, syscallTimes };
export type { AllCountsResult } from './watches/allcounts.js';
export type { SyscallsResult } from './watches/syscalls.js';
export type { SyscallsByPidResult } from './watches/syscalls-by-pid.js';
export type { SyscallTimesResult, SyscallTime } from './watches/syscall-times.js';

/** The watches this plugin provides (tw discovers them through package.json "tw.watches"). */
export const watches: AnyWatch[] = [allcounts, syscalls, syscallsByPid, syscallTimes];
export default watches;
