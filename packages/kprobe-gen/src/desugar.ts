/**
 * The ino/dev/path built-ins expressed as member chains over struct path/file/dentry, so the C
 * renderer (non-faulting loads) and the kprobe_events renderer (offset derefs) read the very
 * same members. path() of a struct path/file reads both the mount and the dentry.
 */
import { vfsKind, type CType, type Expr, type ProbeModel } from '@tw/probe-spec';

function member(obj: Expr, name: string, arrow = true): Expr {
  return { k: 'member', obj, member: name, arrow, pos: 0 };
}

/** The struct dentry * behind a struct path * / struct file * / struct dentry * identifier. */
export function dentryOf(ident: string, type: CType): Expr {
  const id: Expr = { k: 'ident', name: ident, pos: 0 };
  switch (vfsKind(type)) {
    case 'path':
      return member(id, 'dentry');
    case 'file':
      return member(member(id, 'f_path'), 'dentry', false);
    case 'dentry':
      return id;
    default:
      throw new Error(`internal: ${type.text} is not a path, file or dentry pointer`);
  }
}

/**
 * The struct vfsmount * behind a struct path * / struct file * identifier (path->mnt,
 * file->f_path.mnt), or undefined for a struct dentry *, which carries no mount: path() of a
 * dentry can only be relative to its filesystem.
 */
export function mntOf(ident: string, type: CType): Expr | undefined {
  const id: Expr = { k: 'ident', name: ident, pos: 0 };
  switch (vfsKind(type)) {
    case 'path':
      return member(id, 'mnt');
    case 'file':
      return member(member(id, 'f_path'), 'mnt', false);
    case 'dentry':
      return undefined;
    default:
      throw new Error(`internal: ${type.text} is not a path, file or dentry pointer`);
  }
}

/**
 * Does any path() field of the spec read a mount (a struct path * or struct file *), or a field
 * the caller's cwd (fs->pwd, a struct path)? Its module then walks mounts and takes the struct
 * mount offsets (mount-offsets.ts).
 */
export function crossesMounts(m: ProbeModel): boolean {
  return m.fields.some((f) => {
    if (f.source.k === 'builtin' && f.source.name === 'cwd') return true;
    if (f.source.k !== 'call' || f.source.fn !== 'path' || f.source.arg.k !== 'ident') return false;
    const name = f.source.arg.name;
    const t = name === 'retval' ? m.returns : m.args.find((a) => a.name === name)?.type;
    return t !== undefined && mntOf(name, t) !== undefined;
  });
}

/** inode number: dentry->d_inode->i_ino */
export function inoOf(ident: string, type: CType): Expr {
  return member(member(dentryOf(ident, type), 'd_inode'), 'i_ino');
}

/** device (kernel dev_t encoding, MAJOR << 20 | MINOR): dentry->d_inode->i_sb->s_dev */
export function devOf(ident: string, type: CType): Expr {
  return member(member(member(dentryOf(ident, type), 'd_inode'), 'i_sb'), 's_dev');
}
