// SPDX-License-Identifier: GPL-2.0-only
// Test fixture the verifier must reject: a read past the end of a map value (tw_lost's
// value is one u64; this reads the fifth).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tw-record.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_getppid")
int twrn_rejected(void *ctx)
{
	__u32 zero = 0;
	volatile __u64 *n = bpf_map_lookup_elem(&tw_lost, &zero);

	if (!n)
		return 0;
	return (int)n[4]; /* "invalid access to map value, value_size=8 off=32 size=8" */
}
