/**
 * The dynamic probes this plugin's watches use (tw discovers them through package.json
 * "tw.probes"). Each becomes the event tw:<name>, from a generated kprobe module, a tracefs
 * kprobe event where the spec allows it, or a BPF program (syscall forms on any kernel with BTF).
 */
import { defineProbe, type ProbeSpec } from '@tw/probe-spec';

/** do_unlinkat(int dfd, struct filename *name): its arguments, and the name as the caller gave it */
const DO_UNLINKAT_ARGS = [
  { name: 'dfd', type: 'int' },
  { name: 'name', type: 'struct filename *' },
] as const;
const DO_UNLINKAT_NAME = [
  { name: 'dfd', type: 's32', from: 'dfd', description: 'directory fd the pathname is relative to (-100: cwd)' },
  { name: 'pathname', type: { string: 256 }, from: 'kernel_string(name->name)' },
] as const;

/**
 * unlink(2)/unlinkat(2) of a non-directory. do_unlinkat(int dfd, struct filename *name) is
 * where both syscalls meet (and io_uring's unlinkat); its prototype is the same on 6.1 and 6.12
 * and it is not inlined. The pathname is the kernel's copy (name->name), read without faulting,
 * as the caller gave it: relative to dfd (-100 = AT_FDCWD, the caller's cwd).
 */
export const unlink = defineProbe({
  name: 'unlink',
  description: 'unlink(2)/unlinkat(2) of a file: the pathname as given (relative to dfd) and the caller',
  attach: { kprobe: 'do_unlinkat' },
  args: DO_UNLINKAT_ARGS,
  fields: [
    ...DO_UNLINKAT_NAME,
    { name: 'pid', type: 'pid', from: 'pid', description: 'the calling thread' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
  ],
});

/**
 * do_unlinkat again, with the caller's cwd: a relative name (`rm ../x` from another directory)
 * is then resolved even when the caller has exited before tw reads the event. A module or BPF
 * (kprobe events cannot read the cwd, so `unlink` stays their form).
 */
export const unlinkCwd = defineProbe({
  name: 'unlink_cwd',
  description: 'unlink(2)/unlinkat(2) of a file (do_unlinkat): the pathname as given, dfd, the caller\'s cwd and the caller (module or BPF)',
  attach: { kprobe: 'do_unlinkat' },
  args: DO_UNLINKAT_ARGS,
  fields: [
    ...DO_UNLINKAT_NAME,
    { name: 'cwd', type: { string: 256 }, from: 'cwd', description: "the caller's working directory (full path from its root)" },
    { name: 'pid', type: 'pid', from: 'pid', description: 'the calling thread' },
    { name: 'tgid', type: 'u32', from: 'tgid' },
    { name: 'ppid', type: 'u32', from: 'ppid' },
    { name: 'uid', type: 'u32', from: 'uid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
    { name: 'cmdline', type: { string: 256 }, from: 'cmdline' },
  ],
});

/**
 * The same question through the syscall wrapper (__x64_sys_unlinkat / __arm64_sys_unlinkat):
 * the arguments come from the user registers and the pathname from user memory. Needs no struct
 * layout at all, so its kprobe_events form works on any kernel with kprobe events; it sees
 * unlinkat(2) only (rm, unlink(1) and most libcs use it), including rmdir via AT_REMOVEDIR.
 */
export const unlinkat = defineProbe({
  name: 'unlinkat',
  description: 'unlinkat(2) entry via the syscall wrapper: pathname from user memory, dfd, flags and the caller',
  attach: { syscall: 'unlinkat' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'pathname', type: 'const char __user *' },
    { name: 'flag', type: 'int' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'flag', type: 's32', from: 'flag', description: '0 or AT_REMOVEDIR (0x200)' },
    { name: 'pathname', type: { string: 256 }, from: 'user_string(pathname)' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
  ],
});

// ---------------------------------------------------------------------------------------------
// Deletions at the syscall exit (BPF: syscalls:sys_exit_<name>, the entry's arguments kept per
// thread). Only calls that succeeded are emitted (`retval == 0`): a failed unlink of a missing file
// deletes nothing. Each carries what user space needs to resolve the names the caller gave: the
// pathname(s) as given (read from the caller's memory at the exit; empty if that page was swapped
// out meanwhile), the full path of the directory fd a name is relative to (`fd_path(dfd)`; empty
// for AT_FDCWD, -100), and the caller's cwd (full paths from the caller's root, symlinks already
// resolved by the kernel). Strings are cut at 255 bytes: a longer path cannot be resolved exactly.
// These forms need BPF (the module and kprobe-event backends have no syscall exit form); on arm64
// only unlinkat and renameat2 exist (the others are x86-64 syscalls) and their probes do not come up.

/** the culprit, as every deletion probe records it */
const culpritFields = [
  { name: 'pid', type: 'pid', from: 'pid', description: 'the calling thread' },
  { name: 'tgid', type: 's32', from: 'tgid', description: "the caller's process" },
  { name: 'ppid', type: 's32', from: 'ppid', description: "the caller's parent process" },
  { name: 'uid', type: 'u32', from: 'uid' },
  { name: 'comm', type: { string: 16 }, from: 'comm' },
  { name: 'cmdline', type: { string: 256 }, from: 'cmdline', description: "the caller's arguments, space-separated (cut at 255 bytes)" },
] as const;

const cwdField = { name: 'cwd', type: { string: 256 }, from: 'cwd', description: "the caller's working directory (full path)" } as const;

/**
 * unlinkat(2) that succeeded: a file, or a directory with AT_REMOVEDIR (rm -d, rm -r). The syscall
 * form of unlink where BPF runs; unlike the `unlinkat` probe (the entry) it sees only deletions
 * that happened and carries what resolving a relative name needs.
 */
export const sysUnlinkat = defineProbe({
  name: 'sys_unlinkat',
  description: 'unlinkat(2) that succeeded (syscall exit, BPF): pathname as given, its directory fd and that fd\'s path, cwd, flag (AT_REMOVEDIR: rmdir) and the caller',
  attach: { syscall: 'unlinkat', returns: 'long' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'pathname', type: 'const char __user *' },
    { name: 'flag', type: 'int' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd', description: 'directory fd the pathname is relative to (-100: cwd)' },
    { name: 'flag', type: 's32', from: 'flag', description: '0 or AT_REMOVEDIR (0x200)' },
    ...culpritFields,
    { name: 'pathname', type: { string: 256 }, from: 'user_string(pathname)', description: 'as the caller gave it' },
    { name: 'dir', type: { string: 256 }, from: 'fd_path(dfd)', description: 'full path of dfd (empty for -100)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

/** unlink(2) that succeeded (x86-64; glibc's and busybox's unlink(1) make this call, rm does not). */
export const sysUnlink = defineProbe({
  name: 'sys_unlink',
  description: 'unlink(2) that succeeded (syscall exit, BPF): pathname as given, cwd and the caller',
  attach: { syscall: 'unlink', returns: 'long' },
  args: [{ name: 'pathname', type: 'const char __user *' }],
  fields: [...culpritFields, { name: 'pathname', type: { string: 256 }, from: 'user_string(pathname)', description: 'as the caller gave it (relative to cwd)' }, cwdField],
  filter: 'retval == 0',
});

/** rmdir(2) that succeeded (x86-64; rmdir(1) makes this call; rm -d and rm -r use unlinkat). */
export const sysRmdir = defineProbe({
  name: 'sys_rmdir',
  description: 'rmdir(2) that succeeded (syscall exit, BPF): pathname as given, cwd and the caller',
  attach: { syscall: 'rmdir', returns: 'long' },
  args: [{ name: 'pathname', type: 'const char __user *' }],
  fields: [...culpritFields, { name: 'pathname', type: { string: 256 }, from: 'user_string(pathname)', description: 'as the caller gave it (relative to cwd)' }, cwdField],
  filter: 'retval == 0',
});

/**
 * rename(2) that succeeded (x86-64): the old name is gone from where it was, and whatever the new
 * name held before is gone (replaced by the renamed file; the syscall does not say whether there
 * was something there).
 */
export const sysRename = defineProbe({
  name: 'sys_rename',
  description: 'rename(2) that succeeded (syscall exit, BPF): both names as given, cwd and the caller',
  attach: { syscall: 'rename', returns: 'long' },
  args: [
    { name: 'oldname', type: 'const char __user *' },
    { name: 'newname', type: 'const char __user *' },
  ],
  fields: [
    ...culpritFields,
    { name: 'oldname', type: { string: 256 }, from: 'user_string(oldname)', description: 'as the caller gave it (relative to cwd)' },
    { name: 'newname', type: { string: 256 }, from: 'user_string(newname)', description: 'as the caller gave it (relative to cwd)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

/** renameat(2) that succeeded (x86-64): rename(2) with a directory fd for each name. */
export const sysRenameat = defineProbe({
  name: 'sys_renameat',
  description: 'renameat(2) that succeeded (syscall exit, BPF): both names as given, their directory fds and those fds\' paths, cwd and the caller',
  attach: { syscall: 'renameat', returns: 'long' },
  args: [
    { name: 'olddfd', type: 'int' },
    { name: 'oldname', type: 'const char __user *' },
    { name: 'newdfd', type: 'int' },
    { name: 'newname', type: 'const char __user *' },
  ],
  fields: [
    { name: 'olddfd', type: 's32', from: 'olddfd', description: 'directory fd oldname is relative to (-100: cwd)' },
    { name: 'newdfd', type: 's32', from: 'newdfd', description: 'directory fd newname is relative to (-100: cwd)' },
    ...culpritFields,
    { name: 'oldname', type: { string: 256 }, from: 'user_string(oldname)', description: 'as the caller gave it' },
    { name: 'newname', type: { string: 256 }, from: 'user_string(newname)', description: 'as the caller gave it' },
    { name: 'olddir', type: { string: 256 }, from: 'fd_path(olddfd)', description: 'full path of olddfd (empty for -100)' },
    { name: 'newdir', type: { string: 256 }, from: 'fd_path(newdfd)', description: 'full path of newdfd (empty for -100)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

/**
 * renameat2(2) that succeeded: renameat(2) with flags (RENAME_NOREPLACE 1: the new name did not
 * exist; RENAME_EXCHANGE 2: the two files swapped names). What mv(1) calls on current coreutils,
 * and the only rename syscall on arm64.
 */
export const sysRenameat2 = defineProbe({
  name: 'sys_renameat2',
  description: 'renameat2(2) that succeeded (syscall exit, BPF): both names as given, their directory fds and those fds\' paths, flags, cwd and the caller',
  attach: { syscall: 'renameat2', returns: 'long' },
  args: [
    { name: 'olddfd', type: 'int' },
    { name: 'oldname', type: 'const char __user *' },
    { name: 'newdfd', type: 'int' },
    { name: 'newname', type: 'const char __user *' },
    { name: 'flags', type: 'unsigned int' },
  ],
  fields: [
    { name: 'olddfd', type: 's32', from: 'olddfd', description: 'directory fd oldname is relative to (-100: cwd)' },
    { name: 'newdfd', type: 's32', from: 'newdfd', description: 'directory fd newname is relative to (-100: cwd)' },
    { name: 'flags', type: 'u32', from: 'flags', description: 'RENAME_NOREPLACE 1, RENAME_EXCHANGE 2, RENAME_WHITEOUT 4' },
    ...culpritFields,
    { name: 'oldname', type: { string: 256 }, from: 'user_string(oldname)', description: 'as the caller gave it' },
    { name: 'newname', type: { string: 256 }, from: 'user_string(newname)', description: 'as the caller gave it' },
    { name: 'olddir', type: { string: 256 }, from: 'fd_path(olddfd)', description: 'full path of olddfd (empty for -100)' },
    { name: 'newdir', type: { string: 256 }, from: 'fd_path(newdfd)', description: 'full path of newdfd (empty for -100)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

/**
 * A file being opened for writing. vfs_open(const struct path *path, struct file *file) is
 * where every open of an existing or just-created file ends (open, openat, openat2,
 * open_by_handle_at, kernel filp_open) on 6.1 and 6.12 alike. At its entry the path is the final
 * target (symlinks followed, O_CREAT done), permission checks have passed, and file->f_mode
 * already holds FMODE_WRITE (0x2) for O_WRONLY/O_RDWR, so the filter is exact. The open can
 * still fail after this point (e.g. an LSM denial). O_TMPFILE opens do not pass here.
 *
 * watch_ino/watch_dev pre-filter in the kernel (module backend), so the walk for `path` only
 * runs for the file being watched. `path` is the full path as the opener sees it (path(path)
 * reads both the mount and the dentry, and crosses mount points with struct mount's layout from
 * the kernel's BTF); where that layout cannot be read at load time (no BTF, no pahole) it is the
 * path inside the file's filesystem.
 */
export const openWrite = defineProbe({
  name: 'open_write',
  description: 'A file is opened for writing (vfs_open with FMODE_WRITE): inode, device, full path, flags and the opener',
  attach: { kprobe: 'vfs_open' },
  args: [
    { name: 'path', type: 'const struct path *' },
    { name: 'file', type: 'struct file *' },
  ],
  params: [
    { name: 'watch_ino', type: 'ulong', default: 0, live: true, description: 'report only this inode number (0: all); live: who-modified follows the file through a replacement' },
    { name: 'watch_dev', type: 'uint', default: 0, live: true, description: 'and only on this device, kernel dev_t MAJOR<<20|MINOR (0: any)' },
  ],
  fields: [
    { name: 'ino', type: 'u64', from: 'ino(path)' },
    { name: 'dev', type: 'u32', from: 'dev(path)', description: 'kernel dev_t: MAJOR << 20 | MINOR' },
    { name: 'flags', type: 'u32', from: 'file->f_flags', description: 'open(2) flags' },
    { name: 'mode', type: 'u32', from: 'file->f_mode', description: 'FMODE bits (0x2: write)' },
    { name: 'pid', type: 'pid', from: 'pid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
    { name: 'path', type: { string: 256 }, from: 'path(path)', description: "full path from the opener's root (inside its filesystem when struct mount's layout is unknown)" },
  ],
  filter: '(mode & 2) != 0 && (watch_ino == 0 || ino == watch_ino) && (watch_dev == 0 || dev == watch_dev)',
});

/**
 * The same question where open_write cannot be brought up (a kernel without kprobes or
 * modules): openat(2) through the syscall tracepoints, which BPF can attach to everywhere. One
 * event when the syscall returns, carrying the arguments it was called with (kept per thread from
 * the entry), the new descriptor, and, read from the descriptor in the caller's file table, the
 * inode, device (kernel dev_t, as open_write's `dev`) and full path of the file it opened.
 *
 * Reported: successful opens (fd >= 0) for writing, O_WRONLY or O_RDWR, and also O_TRUNC with
 * O_RDONLY (Linux truncates the file then, though the descriptor cannot write; open_write, which
 * tests FMODE_WRITE, does not see that one); not O_PATH opens, which ignore the access mode.
 * O_CREAT alone is not a write: it creates an empty file when there was none, and that file is
 * not the one watched by inode. watch_ino/watch_dev pre-filter in the kernel exactly as
 * open_write's, so the path walk only runs for the file watched (when they are given).
 *
 * What this form does not see, where open_write does: open(2) and creat(2), separate syscalls on
 * x86-64 (glibc implements open() with openat since 2.26, but musl, as in Alpine or a static
 * busybox, calls open(2) there; arm64 has only openat), openat2(2) (systemd, container runtimes),
 * open_by_handle_at(2), io_uring's IORING_OP_OPENAT(2), and opens the kernel makes itself (nfsd,
 * overlayfs copy-up, core dumps). Neither form sees a file written through a descriptor opened
 * before the probe came up, or truncate(2) by path. The pathname is what the caller passed,
 * read from its memory at return (empty if that page was swapped out meanwhile); `path` is the
 * file opened, symlinks followed.
 */
export const openatWrite = defineProbe({
  name: 'openat_write',
  description: 'openat(2) that opened a file for writing (syscall exit, also by BPF): fd, inode, device and full path of the file, flags, the pathname as given, and the opener',
  attach: { syscall: 'openat', returns: 'long' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'filename', type: 'const char __user *' },
    { name: 'flags', type: 'int' },
    { name: 'mode', type: 'umode_t' },
  ],
  params: [
    { name: 'watch_ino', type: 'ulong', default: 0, live: true, description: 'report only this inode number (0: all); live: who-modified follows the file through a replacement' },
    { name: 'watch_dev', type: 'uint', default: 0, live: true, description: 'and only on this device, kernel dev_t MAJOR<<20|MINOR (0: any)' },
  ],
  fields: [
    { name: 'fd', type: 's32', from: 'retval', description: 'the new file descriptor' },
    { name: 'ino', type: 'u64', from: 'fd_ino(retval)' },
    { name: 'dev', type: 'u32', from: 'fd_dev(retval)', description: 'kernel dev_t: MAJOR << 20 | MINOR' },
    { name: 'flags', type: 'u32', from: 'flags', description: 'open(2) flags' },
    { name: 'mode', type: 'u16', from: 'mode', description: 'permission bits for a file O_CREAT creates' },
    { name: 'dfd', type: 's32', from: 'dfd', description: 'directory fd the pathname is relative to (-100: cwd)' },
    { name: 'pid', type: 'pid', from: 'pid', description: 'the calling thread' },
    { name: 'ppid', type: 's32', from: 'ppid', description: "the caller's parent process" },
    { name: 'uid', type: 'u32', from: 'uid' },
    { name: 'comm', type: { string: 16 }, from: 'comm' },
    { name: 'pathname', type: { string: 256 }, from: 'user_string(filename)', description: 'as the caller gave it (relative to dfd)' },
    { name: 'path', type: { string: 256 }, from: 'fd_path(retval)', description: "full path of the file opened, from the caller's root" },
    { name: 'cmdline', type: { string: 256 }, from: 'cmdline', description: "the opener's arguments, space-separated (cut at 255 bytes)" },
  ],
  // O_PATH 0x200000, O_ACCMODE 3, O_TRUNC 0x200 (the generic values: x86-64 and arm64 alike)
  filter:
    'retval >= 0 && (flags & 0x200000) == 0 && ((flags & 3) != 0 || (flags & 0x200) != 0)' +
    ' && (watch_ino == 0 || ino == watch_ino) && (watch_dev == 0 || dev == watch_dev)',
});

// Changes through a file descriptor (who-modified): the syscall entries that write or truncate
// through a descriptor, filtered in the kernel to descriptors of one file (its inode and
// device, read from the caller's file table: fd_ino/fd_dev, BPF only). The file is given as live
// parameters, so who-modified follows it when it is replaced (an editor's save renames a new file
// over the old one). With watch_ino 0 nothing is reported. These see a descriptor opened before tw
// started, and one inherited or passed over a socket; they report attempts (the entry: the
// call may still fail, e.g. ENOSPC). Not seen: writes through a shared mapping (mmap), which
// reach the file without a syscall, and io_uring writes.

const watchedFile = [
  { name: 'watch_ino', type: 'ulong', default: 0, live: true, description: 'the watched file\'s inode number (0: report nothing)' },
  { name: 'watch_dev', type: 'uint', default: 0, live: true, description: 'its device, kernel dev_t MAJOR<<20|MINOR' },
] as const;

/** who changed it, with its arguments as captured at the call */
const writerFields = [
  { name: 'pid', type: 'pid', from: 'pid', description: 'the calling thread' },
  { name: 'tgid', type: 's32', from: 'tgid', description: "the caller's process" },
  { name: 'ppid', type: 's32', from: 'ppid', description: "the caller's parent process" },
  { name: 'uid', type: 'u32', from: 'uid' },
  { name: 'comm', type: { string: 16 }, from: 'comm' },
  { name: 'cmdline', type: { string: 256 }, from: 'cmdline', description: "the caller's arguments, space-separated (cut at 255 bytes)" },
] as const;

const fdFilter = 'watch_ino != 0 && ino == watch_ino && dev == watch_dev';

type Arg = ProbeSpec['args'][number];
type Field = ProbeSpec['fields'][number];

/**
 * A syscall entry through descriptor `fd` (its first argument), filtered to the watched file:
 * the fd, the call's own fields, the file's inode and device from the caller's file table, and
 * who called.
 */
function fdProbe(name: string, description: string, args: readonly Arg[], own: readonly Field[]): ProbeSpec {
  return defineProbe({
    name: `sys_${name}`,
    description: `${description} (syscall entry, BPF; the file as live parameters)`,
    attach: { syscall: name },
    args,
    params: watchedFile,
    fields: [
      { name: 'fd', type: 's32', from: 'fd' },
      ...own,
      { name: 'ino', type: 'u64', from: 'fd_ino(fd)' },
      { name: 'dev', type: 'u32', from: 'fd_dev(fd)' },
      ...writerFields,
    ],
    filter: fdFilter,
  });
}

/** write(2) to the watched file through any descriptor. */
export const sysWrite = fdProbe('write', 'write(2) to one file: fd, count, inode, device and the writer', [
  { name: 'fd', type: 'unsigned int' },
  { name: 'buf', type: 'const char __user *' },
  { name: 'count', type: 'size_t' },
], [{ name: 'count', type: 'u64', from: 'count', description: 'bytes asked to write' }]);

/** pwrite64(2): a write at an offset. */
export const sysPwrite64 = fdProbe('pwrite64', 'pwrite64(2) to one file: fd, count, offset, inode, device and the writer', [
  { name: 'fd', type: 'unsigned int' },
  { name: 'buf', type: 'const char __user *' },
  { name: 'count', type: 'size_t' },
  { name: 'pos', type: 'loff_t' },
], [
  { name: 'count', type: 'u64', from: 'count', description: 'bytes asked to write' },
  { name: 'pos', type: 's64', from: 'pos', description: 'file offset' },
]);

/** writev(2): a gathered write (what many loggers and stdio implementations use). */
export const sysWritev = fdProbe('writev', 'writev(2) to one file: fd, iovec count, inode, device and the writer', [
  { name: 'fd', type: 'unsigned long' },
  { name: 'vec', type: 'const struct iovec __user *' },
  { name: 'vlen', type: 'unsigned long' },
], [{ name: 'vlen', type: 'u32', from: 'vlen', description: 'buffers in the iovec' }]);

/** ftruncate(2): the file cut (or extended) to a length through a descriptor. */
export const sysFtruncate = fdProbe('ftruncate', 'ftruncate(2) of one file: fd, length, inode, device and the caller', [
  { name: 'fd', type: 'unsigned int' },
  { name: 'length', type: 'unsigned long' },
], [{ name: 'length', type: 'u64', from: 'length' }]);

/**
 * truncate(2) that succeeded: a file cut to a length by its name (truncate(1), shell tools). At
 * the exit, like the deletion probes: the name as given and the cwd it is relative to.
 */
export const sysTruncate = defineProbe({
  name: 'sys_truncate',
  description: 'truncate(2) that succeeded (syscall exit, BPF): the path as given, the length, cwd and the caller',
  attach: { syscall: 'truncate', returns: 'long' },
  args: [
    { name: 'path', type: 'const char __user *' },
    { name: 'length', type: 'long' },
  ],
  fields: [
    { name: 'length', type: 's64', from: 'length' },
    ...writerFields,
    { name: 'pathname', type: { string: 256 }, from: 'user_string(path)', description: 'as the caller gave it (relative to cwd)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

// Metadata changes (who-modified --include-metadata): mode, owner and times. By name at the
// syscall exit (succeeded), resolved like the deletions; through a descriptor at the entry,
// filtered by the file's inode like the writes. chmod(1) and chown(1) call fchmodat/fchownat,
// touch(1) utimensat (with a NULL name and the file's own descriptor for futimens).

/** fchmodat(2) that succeeded (chmod(1)). */
export const sysFchmodat = defineProbe({
  name: 'sys_fchmodat',
  description: 'fchmodat(2) that succeeded (syscall exit, BPF): the name as given, its directory fd and that fd\'s path, mode, cwd and the caller',
  attach: { syscall: 'fchmodat', returns: 'long' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'filename', type: 'const char __user *' },
    { name: 'mode', type: 'umode_t' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'mode', type: 'u32', from: 'mode' },
    ...writerFields,
    { name: 'pathname', type: { string: 256 }, from: 'user_string(filename)', description: 'as the caller gave it' },
    { name: 'dir', type: { string: 256 }, from: 'fd_path(dfd)', description: 'full path of dfd (empty for -100)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

/** fchownat(2) that succeeded (chown(1), chgrp(1)). */
export const sysFchownat = defineProbe({
  name: 'sys_fchownat',
  description: 'fchownat(2) that succeeded (syscall exit, BPF): the name as given, its directory fd and that fd\'s path, owner, group, cwd and the caller',
  attach: { syscall: 'fchownat', returns: 'long' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'filename', type: 'const char __user *' },
    { name: 'user', type: 'uid_t' },
    { name: 'group', type: 'gid_t' },
    { name: 'flag', type: 'int' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'owner', type: 's32', from: 'user', description: 'new owner (-1: unchanged)' },
    { name: 'group', type: 's32', from: 'group', description: 'new group (-1: unchanged)' },
    ...writerFields,
    { name: 'pathname', type: { string: 256 }, from: 'user_string(filename)', description: 'as the caller gave it' },
    { name: 'dir', type: { string: 256 }, from: 'fd_path(dfd)', description: 'full path of dfd (empty for -100)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

/** utimensat(2) that succeeded (touch(1); futimens(3) passes a NULL name and the file's descriptor). */
export const sysUtimensat = defineProbe({
  name: 'sys_utimensat',
  description: 'utimensat(2) that succeeded (syscall exit, BPF): the name as given (empty: dfd is the file), dfd\'s path, cwd and the caller',
  attach: { syscall: 'utimensat', returns: 'long' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'filename', type: 'const char __user *' },
    { name: 'utimes', type: 'struct __kernel_timespec __user *' },
    { name: 'flags', type: 'int' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd' },
    ...writerFields,
    { name: 'pathname', type: { string: 256 }, from: 'user_string(filename)', description: 'as the caller gave it (empty: dfd is the file itself)' },
    { name: 'dir', type: { string: 256 }, from: 'fd_path(dfd)', description: 'full path of dfd (the file itself when the name is empty; empty for -100)' },
    cwdField,
  ],
  filter: 'retval == 0',
});

/** fchmod(2) of the watched file through a descriptor. */
export const sysFchmod = fdProbe('fchmod', 'fchmod(2) of one file: fd, mode and the caller', [
  { name: 'fd', type: 'unsigned int' },
  { name: 'mode', type: 'umode_t' },
], [{ name: 'mode', type: 'u32', from: 'mode' }]);

/** fchown(2) of the watched file through a descriptor. */
export const sysFchown = fdProbe('fchown', 'fchown(2) of one file: fd, owner, group and the caller', [
  { name: 'fd', type: 'unsigned int' },
  { name: 'user', type: 'uid_t' },
  { name: 'group', type: 'gid_t' },
], [
  { name: 'owner', type: 's32', from: 'user' },
  { name: 'group', type: 's32', from: 'group' },
]);

/** Every probe spec of this plugin. */
export const probes: ProbeSpec[] = [
  unlink, unlinkCwd, unlinkat, sysUnlinkat, sysUnlink, sysRmdir, sysRename, sysRenameat, sysRenameat2, openWrite, openatWrite,
  sysWrite, sysPwrite64, sysWritev, sysFtruncate, sysTruncate,
  sysFchmodat, sysFchownat, sysUtimensat, sysFchmod, sysFchown,
];
export default probes;
