/**
 * The dynamic probes this plugin's watch uses (tw discovers them through package.json
 * "tw.probes"): kill(2) at the kernel function every kill(2) calls, and at the syscall entry
 * where that cannot be brought up.
 */
import { defineProbe, type ProbeSpec } from '@tw/probe-spec';

/**
 * kill(2). kill_something_info(int sig, struct kernel_siginfo *info, pid_t pid) is what
 * sys_kill calls with the raw target argument, before it is resolved to tasks: a pid, 0 (the
 * caller's process group), -1 (every process the caller may signal) or -pgrp. Same prototype on
 * 6.1 and 6.12, and a real (not inlined) function on both. It does not see tkill/tgkill,
 * pidfd_send_signal or signals the kernel generates itself; the who-killed watch takes those from
 * signal:signal_generate.
 */
export const kill = defineProbe({
  name: 'kill',
  description: 'kill(2): the signal, the raw target argument and the sender',
  attach: { kprobe: 'kill_something_info' },
  args: [
    { name: 'sig', type: 'int' },
    { name: 'info', type: 'struct kernel_siginfo *' },
    { name: 'target', type: 'pid_t' },
  ],
  fields: [
    { name: 'sig', type: 's32', from: 'sig' },
    { name: 'target', type: 'pid', from: 'target', description: 'pid; 0: the sender process group; -1: all; below -1: process group -target' },
    { name: 'pid', type: 'pid', from: 'pid', description: 'the sending thread' },
    { name: 'comm', type: { string: 16 }, from: 'comm', description: 'the sender command name' },
  ],
});

/**
 * kill(2) where the kill probe cannot be brought up (a kernel without kprobes or modules): the
 * syscall's entry, through the syscall tracepoint (BPF) or the syscall wrapper (kprobe events,
 * module), with the same fields as tw:kill (no ppid or uid: kprobe events cannot read the task,
 * and this form is meant to work with every backend). It sees what kill_something_info sees (every kill(2),
 * before the target is resolved or permissions are checked), except a kill(2) made from a 32-bit
 * compat process on a 64-bit kernel, which goes through the compat syscall table.
 *
 * watch_pid pre-filters in the kernel: only calls that can reach that pid (sent to it, to a
 * process group: target 0 or below -1, or to every process: -1) are reported. tkill(2) and
 * tgkill(2) have no probe of their own: signal:signal_generate fires in the sender's context, so
 * it already names the sender of those (and of the signals the kernel sends).
 */
export const sysKill = defineProbe({
  name: 'sys_kill',
  description: 'kill(2) entry via the syscall (also by BPF): the signal, the raw target argument and the sender',
  attach: { syscall: 'kill' },
  args: [
    { name: 'target', type: 'pid_t' },
    { name: 'sig', type: 'int' },
  ],
  params: [{ name: 'watch_pid', type: 'int', default: 0, description: 'report only calls that can reach this pid: to it, to a process group or to all (0: every call)' }],
  fields: [
    { name: 'sig', type: 's32', from: 'sig' },
    { name: 'target', type: 'pid', from: 'target', description: 'pid; 0: the sender process group; -1: all; below -1: process group -target' },
    { name: 'pid', type: 'pid', from: 'pid', description: 'the sending thread' },
    { name: 'comm', type: { string: 16 }, from: 'comm', description: 'the sender command name' },
  ],
  filter: 'watch_pid == 0 || target == watch_pid || target <= 0',
});

/** Every probe spec of this plugin. */
export const probes: ProbeSpec[] = [kill, sysKill];
export default probes;
