/**
 * The ino/dev/path built-ins expressed as member chains over struct path/file/dentry, so the C
 * renderer (non-faulting loads) and the kprobe_events renderer (offset derefs) read the very
 * same members.
 */
import { vfsKind, type CType } from './c-type.js';
import type { Expr } from './expr.js';

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

/** inode number: dentry->d_inode->i_ino */
export function inoOf(ident: string, type: CType): Expr {
  return member(member(dentryOf(ident, type), 'd_inode'), 'i_ino');
}

/** device (kernel dev_t encoding, MAJOR << 20 | MINOR): dentry->d_inode->i_sb->s_dev */
export function devOf(ident: string, type: CType): Expr {
  return member(member(member(dentryOf(ident, type), 'd_inode'), 'i_sb'), 's_dev');
}
