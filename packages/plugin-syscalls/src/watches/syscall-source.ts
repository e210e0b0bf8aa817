import type { WatchEvent } from '@tw/core';

/**
 * Syscall entry/exit from either event family: raw_syscalls:sys_enter/sys_exit (one event for
 * all syscalls, the number in `id`) or syscalls:sys_enter_<name>/sys_exit_<name>. When a trace
 * has both, raw_syscalls is used so nothing is counted twice.
 */
export const SYSCALL_ENTER_EVENTS = ['raw_syscalls:sys_enter|syscalls:sys_enter_*'] as const;
export const SYSCALL_EVENTS = ['raw_syscalls:sys_enter|syscalls:sys_enter_*', 'raw_syscalls:sys_exit|syscalls:sys_exit_*'] as const;

export function rawSyscallNr(e: WatchEvent): number {
  return Number(e.fields.id as bigint | number);
}

/** "syscalls:sys_enter_openat" → "openat" */
export function nameFromEvent(event: string): string {
  return event.replace(/^syscalls:sys_(enter|exit)_/, '');
}
