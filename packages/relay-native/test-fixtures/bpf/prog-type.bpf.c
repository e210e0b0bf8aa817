// SPDX-License-Identifier: GPL-2.0-only
// Test fixture: one program that returns 0, of the type named by -DTWRN_TYPE_<type>, for
// checking bpfProgramTypes() against bpftool, which loads it (never attaches it) by its section
// as libbpf does: the type, the expected attach type and the BTF id of the target all come from
// the section name. The targets are those the addon tries first.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#if defined(TWRN_TYPE_tracepoint)
SEC("tracepoint/sched/sched_switch")
#elif defined(TWRN_TYPE_raw_tp)
SEC("raw_tp/sched_switch")
#elif defined(TWRN_TYPE_tp_btf)
SEC("tp_btf/sched_switch")
#elif defined(TWRN_TYPE_kprobe)
SEC("kprobe/vfs_read")
#elif defined(TWRN_TYPE_fentry)
SEC("fentry/vfs_read")
#elif defined(TWRN_TYPE_lsm)
SEC("lsm/file_open")
#else
#error "build with -DTWRN_TYPE_<type>"
#endif
int twrn_prog_type(void *ctx)
{
	return 0;
}
