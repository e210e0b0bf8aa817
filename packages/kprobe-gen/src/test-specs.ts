/**
 * Specs used only by the tests: between them they exercise every feature of the generator
 * (kretprobe with saved entry args, every field type and built-in, casts and arithmetic, a filter
 * over fields/args/params incl. a charp comparison, every param type, path() with and without a
 * mount), plus a deliberately
 * broken one that must fail to compile.
 */
import { defineProbe, type ProbeSpec } from '@tw/probe-spec';

/** kretprobe on do_filp_open: the opened file (or an ERR_PTR, read without faulting) and more. */
export const kitchenSink = defineProbe({
  name: 'ksink',
  description: 'test probe: every field type, built-in and param type',
  attach: { kretprobe: 'do_filp_open', returns: 'struct file *' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'pathname', type: 'struct filename *' },
    { name: 'op', type: 'const struct open_flags *' },
  ],
  params: [
    { name: 'min_dfd', type: 'int', default: -100, description: 'lowest dfd reported' },
    { name: 'verbose', type: 'bool', default: true },
    { name: 'skip_comm', type: 'charp', default: 'nobody' },
    { name: 'big', type: 'ulong', default: 18446744073709551615n },
    { name: 'small', type: 'short', default: -3 },
    { name: 'tiny', type: 'ushort', default: 7 },
    { name: 'wide', type: 'long', default: -9007199254740991 },
    { name: 'count', type: 'uint', default: 4294967295 },
  ],
  fields: [
    { name: 'ino', type: 'u64', from: 'ino(retval)' },
    { name: 'dev', type: 'u32', from: 'dev(retval)' },
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'name', type: { string: 128 }, from: 'kernel_string(pathname->name)' },
    { name: 'tgid', type: 'u32', from: 'tgid' },
    { name: 'uid', type: 'u32', from: 'uid' },
    { name: 'gid', type: 's64', from: 'gid' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
    { name: 'fpath', type: { string: 200 }, from: 'path(retval)' },
    { name: 'args', type: { string: 64 }, from: 'cmdline' },
    { name: 'ok', type: 'bool', from: 'retval' },
    { name: 'iname', type: { bytes: 8 }, from: '&pathname->iname' },
    { name: 'lo', type: 'u16', from: '(u16)dfd' },
    { name: 'neg', type: 's64', from: '-dfd' },
    { name: 'mix', type: 'u32', from: '(dfd + 1) | 0x4' },
    { name: 'sb', type: 's8', from: '(s8)(dfd - 1)' },
    { name: 'ub', type: 'u8', from: '(unsigned char)dfd & 0xff' },
    { name: 'ss', type: 's16', from: '(short)dfd' },
    { name: 'refs', type: 'u32', from: '((struct filename *)pathname)->refcnt.counter' },
    { name: 'rawret', type: 'u64', from: '(unsigned long)retval' },
  ],
  filter: '(dfd >= min_dfd || verbose) && comm != skip_comm && tiny != 0 && (small < 0 || big == 0 || wide < 0 || count > 0)',
});

/** The syscall variant with a filter kprobe events can express (param substituted). */
export const sysFiltered = defineProbe({
  name: 'sys_openat',
  description: 'test probe: openat(2) entry with an in-kernel filter',
  attach: { syscall: 'openat' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'filename', type: 'const char __user *' },
    { name: 'flags', type: 'int' },
    { name: 'mode', type: 'umode_t' },
  ],
  params: [
    { name: 'only_comm', type: 'charp', default: 'touch' },
    { name: 'flag_mask', type: 'uint', default: 3 },
  ],
  fields: [
    { name: 'flags', type: 'u32', from: 'flags' },
    { name: 'mode', type: 'u16', from: 'mode' },
    { name: 'filename', type: { string: 256 }, from: 'user_string(filename)' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
    { name: 'pid', type: 'pid', from: 'pid' },
  ],
  filter: 'comm == only_comm && (flags & flag_mask) != 0 && pid != 1',
});

/**
 * path() of a struct path * (the full path, across mounts) and of a struct dentry * (inside its
 * filesystem) in one module: tw_path() with and without a mount. security_path_unlink(const
 * struct path *dir, struct dentry *dentry) exists with CONFIG_SECURITY_PATH (Debian: yes).
 */
export const pathMix = defineProbe({
  name: 'path_mix',
  description: 'test probe: path() of a struct path and of a dentry',
  attach: { kprobe: 'security_path_unlink' },
  args: [
    { name: 'dir', type: 'const struct path *' },
    { name: 'dentry', type: 'struct dentry *' },
  ],
  fields: [
    { name: 'dir', type: { string: 512 }, from: 'path(dir)' },
    { name: 'rel', type: { string: 128 }, from: 'path(dentry)' },
    { name: 'name', type: { string: 64 }, from: 'kernel_string(dentry->d_name.name)' },
  ],
});

/** path() of a struct dentry only: tw_path() without the mount walk and its params. */
export const dentryPath = defineProbe({
  name: 'dentry_path',
  description: 'test probe: path() of a dentry (inside its filesystem)',
  attach: { kprobe: 'd_delete' },
  args: [{ name: 'dentry', type: 'struct dentry *' }],
  fields: [
    { name: 'path', type: { string: 256 }, from: 'path(dentry)' },
    { name: 'ino', type: 'u64', from: 'ino(dentry)' },
  ],
});

/** Compiles in TS, fails in C: struct filename has no such member. */
export const broken: ProbeSpec = {
  name: 'broken',
  attach: { kprobe: 'do_unlinkat' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'name', type: 'struct filename *' },
  ],
  fields: [{ name: 'x', type: 'u64', from: 'name->no_such_member' }],
};

export const testSpecs: ProbeSpec[] = [kitchenSink, sysFiltered, pathMix, dentryPath];

// Specs only the BPF backend can express (a syscall exit, a tracepoint, the caller's cwd, the file
// behind a descriptor): their generated files have no module (and no kprobe event).

/**
 * openat(2) at its exit: the arguments from the entry, the returned fd, the file behind it
 * (inode, device, full path), the caller's cwd and who called (pid, tgid, ppid, uid, comm).
 */
export const openExit = defineProbe({
  name: 'open_exit',
  description: 'test probe: openat(2) exit with the file behind the returned fd',
  attach: { syscall: 'openat', returns: 'long' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'filename', type: 'const char __user *' },
    { name: 'flags', type: 'int' },
  ],
  params: [
    { name: 'watch_ino', type: 'ulong', default: 0 },
    { name: 'only_comm', type: 'charp', default: '' },
  ],
  fields: [
    { name: 'ret', type: 's64', from: 'retval' },
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'flags', type: 'u32', from: 'flags' },
    { name: 'filename', type: { string: 256 }, from: 'user_string(filename)' },
    { name: 'ino', type: 'u64', from: 'fd_ino(retval)' },
    { name: 'dev', type: 'u32', from: 'fd_dev(retval)' },
    { name: 'path', type: { string: 512 }, from: 'fd_path(retval)' },
    { name: 'cwd', type: { string: 256 }, from: 'cwd' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'tgid', type: 'u32', from: 'tgid' },
    { name: 'ppid', type: 'u32', from: 'ppid' },
    { name: 'uid', type: 'u32', from: 'uid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
    { name: 'cmdline', type: { string: 128 }, from: 'cmdline' },
  ],
  filter: 'retval >= 0 && (watch_ino == 0 || ino == watch_ino) && (only_comm == comm || only_comm != comm)',
});

/** A tracepoint's fields by name, one of them renamed (its field 'pid' cannot be an arg name). */
export const sigGenerate = defineProbe({
  name: 'sig_generate',
  description: 'test probe: signal:signal_generate fields',
  attach: { tracepoint: 'signal:signal_generate' },
  args: [
    { name: 'sig', type: 'int' },
    { name: 'target', type: 'pid_t', field: 'pid' },
    { name: 'result', type: 'int' },
  ],
  params: [{ name: 'only_sig', type: 'int', default: 0 }],
  fields: [
    { name: 'sig', type: 's32', from: 'sig' },
    { name: 'target', type: 'pid', from: 'target' },
    { name: 'result', type: 's32', from: 'result' },
    { name: 'sender', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
  ],
  filter: 'only_sig == 0 || sig == only_sig',
});

/** A tracepoint defined from an event class (struct trace_event_raw_sched_wakeup_template). */
export const schedWaking = defineProbe({
  name: 'sched_waking',
  description: 'test probe: sched:sched_waking through its event class',
  attach: { tracepoint: 'sched:sched_waking', class: 'sched_wakeup_template' },
  args: [
    { name: 'woken', type: 'pid_t', field: 'pid' },
    { name: 'target_cpu', type: 'int' },
  ],
  fields: [
    { name: 'woken', type: 'pid', from: 'woken' },
    { name: 'target_cpu', type: 's32', from: 'target_cpu' },
  ],
});

/** The unlinkat syscall at its exit, with the cwd a relative name is resolved against. */
export const unlinkExit = defineProbe({
  name: 'unlink_exit',
  description: 'test probe: unlinkat(2) exit with the cwd',
  attach: { syscall: 'unlinkat', returns: 'int' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'pathname', type: 'const char __user *' },
  ],
  fields: [
    { name: 'ret', type: 's32', from: 'retval' },
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'pathname', type: { string: 256 }, from: 'user_string(pathname)' },
    { name: 'cwd', type: { string: 256 }, from: 'cwd' },
    { name: 'dir', type: { string: 256 }, from: 'fd_path(dfd)' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
  ],
});

export const bpfOnlySpecs: ProbeSpec[] = [openExit, sigGenerate, schedWaking, unlinkExit];

// The shapes the plugins ship, copied (without their descriptions) so the generator's tests keep
// their exact expectations (kprobe_events lines, symbols, load and unpacker behaviour) without
// importing a plugin, and do not move when a plugin changes its probes. The plugins' own specs
// are tested in test/src/shipped-probes. Not in testSpecs: their generated files are snapshotted
// there, not here.

/** plugin-fswatch's unlink: a kprobe reading a struct member (kernel_string(name->name)). */
export const unlink = defineProbe({
  name: 'unlink',
  description: "test probe: plugin-fswatch's unlink",
  attach: { kprobe: 'do_unlinkat' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'name', type: 'struct filename *' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'pathname', type: { string: 256 }, from: 'kernel_string(name->name)' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
  ],
});

/** plugin-fswatch's unlinkat: the syscall wrapper, a pathname from user memory. */
export const unlinkat = defineProbe({
  name: 'unlinkat',
  description: "test probe: plugin-fswatch's unlinkat",
  attach: { syscall: 'unlinkat' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'pathname', type: 'const char __user *' },
    { name: 'flag', type: 'int' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'flag', type: 's32', from: 'flag' },
    { name: 'pathname', type: { string: 256 }, from: 'user_string(pathname)' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
  ],
});

/** plugin-fswatch's open_write: ino/dev/path() of a struct path, params, a filter over fields. */
export const openWrite = defineProbe({
  name: 'open_write',
  description: "test probe: plugin-fswatch's open_write",
  attach: { kprobe: 'vfs_open' },
  args: [
    { name: 'path', type: 'const struct path *' },
    { name: 'file', type: 'struct file *' },
  ],
  params: [
    { name: 'watch_ino', type: 'ulong', default: 0 },
    { name: 'watch_dev', type: 'uint', default: 0 },
  ],
  fields: [
    { name: 'ino', type: 'u64', from: 'ino(path)' },
    { name: 'dev', type: 'u32', from: 'dev(path)' },
    { name: 'flags', type: 'u32', from: 'file->f_flags' },
    { name: 'mode', type: 'u32', from: 'file->f_mode' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
    { name: 'path', type: { string: 256 }, from: 'path(path)' },
  ],
  filter: '(mode & 2) != 0 && (watch_ino == 0 || ino == watch_ino) && (watch_dev == 0 || dev == watch_dev)',
});

/** plugin-kill's kill: plain register arguments only. */
export const kill = defineProbe({
  name: 'kill',
  description: "test probe: plugin-kill's kill",
  attach: { kprobe: 'kill_something_info' },
  args: [
    { name: 'sig', type: 'int' },
    { name: 'info', type: 'struct kernel_siginfo *' },
    { name: 'target', type: 'pid_t' },
  ],
  fields: [
    { name: 'sig', type: 's32', from: 'sig' },
    { name: 'target', type: 'pid', from: 'target' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
  ],
});

/** The copies above, in the plugins' order. */
export const pluginShapes: ProbeSpec[] = [unlink, unlinkat, openWrite, kill];
