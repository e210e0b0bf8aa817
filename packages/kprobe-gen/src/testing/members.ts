/**
 * For tests: pahole output (trimmed to the members the tests walk through) for Debian's 6.12
 * x86-64 kernel, as `pahole -F btf -C <struct> /lib/modules/6.12.117+deb12-amd64/build/vmlinux`
 * prints it; struct file as 6.1 prints it too, to show why layouts must come from the target's BTF.
 */
import { parsePaholeStruct } from '../btf-members.js';
import type { MemberInfo, MemberLayouts } from '../kprobe-events.js';

export const PAHOLE_6_12: Record<string, string> = {
  filename: `struct filename {
	const char  *              name;                 /*     0     8 */
	const char  *              uptr;                 /*     8     8 */
	atomic_t                   refcnt;               /*    16     4 */

	/* XXX 4 bytes hole, try to pack */

	struct audit_names *       aname;                /*    24     8 */
	const char                 iname[];              /*    32     0 */

	/* size: 32, cachelines: 1, members: 5 */
};
`,
  path: `struct path {
	struct vfsmount *          mnt;                  /*     0     8 */
	struct dentry *            dentry;               /*     8     8 */

	/* size: 16, cachelines: 1, members: 2 */
};
`,
  dentry: `struct dentry {
	unsigned int               d_flags;              /*     0     4 */
	seqcount_spinlock_t        d_seq;                /*     4     4 */
	struct hlist_bl_node       d_hash;               /*     8    16 */
	struct dentry *            d_parent;             /*    24     8 */
	struct qstr                d_name;               /*    32    16 */
	struct inode *             d_inode;              /*    48     8 */
	unsigned char              d_iname[40];          /*    56    40 */
};
`,
  qstr: `struct qstr {
	union {
		struct {
			u32        hash;                 /*     0     4 */
			u32        len;                  /*     4     4 */
		};                                       /*     0     8 */
		u64                hash_len;             /*     0     8 */
	};                                               /*     0     8 */
	const unsigned char  *     name;                 /*     8     8 */

	/* size: 16, cachelines: 1, members: 2 */
};
`,
  inode: `struct inode {
	umode_t                    i_mode;               /*     0     2 */
	short unsigned int         i_opflags;            /*     2     2 */
	kuid_t                     i_uid;                /*     4     4 */
	kgid_t                     i_gid;                /*     8     4 */
	unsigned int               i_flags;              /*    12     4 */
	struct posix_acl *         i_acl;                /*    16     8 */
	struct posix_acl *         i_default_acl;        /*    24     8 */
	const struct inode_operations  * i_op;           /*    32     8 */
	struct super_block *       i_sb;                 /*    40     8 */
	struct address_space *     i_mapping;            /*    48     8 */
	void *                     i_security;           /*    56     8 */
	/* --- cacheline 1 boundary (64 bytes) --- */
	long unsigned int          i_ino;                /*    64     8 */
	union {
		const unsigned int i_nlink;              /*    72     4 */
		unsigned int       __i_nlink;            /*    72     4 */
	};                                               /*    72     4 */
	dev_t                      i_rdev;               /*    76     4 */
};
`,
  super_block: `struct super_block {
	struct list_head           s_list;               /*     0    16 */
	dev_t                      s_dev;                /*    16     4 */
	unsigned char              s_blocksize_bits;     /*    20     1 */
};
`,
  file: `struct file {
	atomic_long_t              f_count;              /*     0     8 */
	spinlock_t                 f_lock;               /*     8     4 */
	fmode_t                    f_mode;               /*    12     4 */
	const struct file_operations  * f_op;            /*    16     8 */
	struct address_space *     f_mapping;            /*    24     8 */
	void *                     private_data;         /*    32     8 */
	struct inode *             f_inode;              /*    40     8 */
	unsigned int               f_flags;              /*    48     4 */
	unsigned int               f_iocb_flags;         /*    52     4 */
	const struct cred  *       f_cred;               /*    56     8 */
	/* --- cacheline 1 boundary (64 bytes) --- */
	struct path                f_path;               /*    64    16 */
	union {
		struct mutex       f_pos_lock;           /*    80    32 */
		u64                f_pipe;               /*    80     8 */
	};                                               /*    80    32 */
	loff_t                     f_pos;                /*   112     8 */
};
`,
};

/** struct mount as `pahole -F btf -C mount` prints it for Debian's 6.12 (trimmed after mnt_mp). */
export const PAHOLE_6_12_MOUNT = `struct mount {
	struct hlist_node          mnt_hash;             /*     0    16 */
	struct mount *             mnt_parent;           /*    16     8 */
	struct dentry *            mnt_mountpoint;       /*    24     8 */
	struct vfsmount            mnt;                  /*    32    32 */
	/* --- cacheline 1 boundary (64 bytes) --- */
	union {
		struct rb_node     mnt_node;             /*    64    24 */
		struct callback_head mnt_rcu;            /*    64    16 */
		struct llist_node  mnt_llist;            /*    64     8 */
	};                                               /*    64    24 */
	struct mnt_pcp *           mnt_pcp;              /*    88     8 */
	struct list_head           mnt_mounts;           /*    96    16 */
	struct list_head           mnt_child;            /*   112    16 */
	/* --- cacheline 2 boundary (128 bytes) --- */
	struct mount *             mnt_next_for_sb;      /*   128     8 */
	struct mount * *           mnt_pprev_for_sb;     /*   136     8 */
	const char  *              mnt_devname;          /*   144     8 */
	struct list_head           mnt_list;             /*   152    16 */
	struct mnt_namespace *     mnt_ns;               /*   232     8 */
	struct mountpoint *        mnt_mp;               /*   240     8 */
};
`;

export const PAHOLE_6_1_FILE = `struct file {
	union {
		struct llist_node  f_llist;              /*     0     8 */
		struct callback_head f_rcuhead;          /*     0    16 */
		unsigned int       f_iocb_flags;         /*     0     4 */
	};                                               /*     0    16 */
	struct path                f_path;               /*    16    16 */
	struct inode *             f_inode;              /*    32     8 */
	const struct file_operations  * f_op;            /*    40     8 */
	spinlock_t                 f_lock;               /*    48     4 */
	atomic_long_t              f_count;              /*    56     8 */
	unsigned int               f_flags;              /*    64     4 */
	fmode_t                    f_mode;               /*    68     4 */
};
`;

function layouts(texts: Record<string, string>): MemberLayouts {
  const out: Record<string, Record<string, MemberInfo>> = {};
  for (const t of Object.values(texts)) {
    const p = parsePaholeStruct(t);
    if (!p) throw new Error('bad pahole fixture');
    out[p.name] = p.members;
  }
  return out;
}

/** Member layouts of Debian 6.12 (x86-64) for the structs the tests use. */
export const MEMBERS_6_12: MemberLayouts = layouts(PAHOLE_6_12);
