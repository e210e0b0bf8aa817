/**
 * The dynamic probe this plugin's watch uses (tw discovers it through package.json "tw.probes").
 */
import { defineProbe, type ProbeSpec } from '@tw/probe-spec';

/**
 * kill(2). kill_something_info(int sig, struct kernel_siginfo *info, pid_t pid) is what
 * sys_kill calls with the raw target argument, before it is resolved to tasks: a pid, 0 (the
 * caller's process group), -1 (every process the caller may signal) or -pgrp. Same prototype on
 * 6.1 and 6.12, and a real (not inlined) function on both. It does not see tkill/tgkill,
 * pidfd_send_signal or signals the kernel generates itself; the who-killed watch falls back to
 * signal:signal_generate for those.
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

/** Every probe spec of this plugin. */
export const probes: ProbeSpec[] = [kill];
export default probes;
