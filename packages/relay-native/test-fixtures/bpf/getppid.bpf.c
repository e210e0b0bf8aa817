// SPDX-License-Identifier: GPL-2.0-only
// Test fixture: one record per getppid() made by the process `tw_param_target_tgid` (or by
// `tw_param_also_tgid`, a live parameter: changeable while the program runs), carrying that tgid
// and two more parameters (a u64 and a string) so the tests see every kind of parameter the
// loader sets.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tw-record.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 tw_param_target_tgid = 0;
const volatile __u64 tw_param_cookie = 0;
const volatile char tw_param_tag[8] = {};
volatile __u32 tw_param_also_tgid SEC(".data") = 0;

struct getppid_record {
	struct tw_record_head head;
	struct tw_common common;
	__s32 tgid;
	__u32 zero;
	__u64 cookie;
	char tag[8];
};

_Static_assert(sizeof(struct getppid_record) == 48, "record size");

SEC("tracepoint/syscalls/sys_enter_getppid")
int twrn_getppid(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct getppid_record *r;

	if ((__u32)(id >> 32) != tw_param_target_tgid && (tw_param_also_tgid == 0 || (__u32)(id >> 32) != tw_param_also_tgid))
		return 0;
	__u64 ts = bpf_ktime_get_ns();
	r = bpf_ringbuf_reserve(&tw_events, sizeof(*r), 0);
	if (!r) {
		tw_count_lost();
		return 0;
	}
	r->head.ts = ts;
	r->head.cpu = bpf_get_smp_processor_id();
	r->head.len = sizeof(*r) - sizeof(r->head);
	r->common.common_type = 0;
	r->common.flags = 0;
	r->common.preempt = 0;
	r->common.pid = (__s32)id;
	r->tgid = (__s32)(id >> 32);
	r->zero = 0;
	r->cookie = tw_param_cookie;
	for (int i = 0; i < 8; i++)
		r->tag[i] = tw_param_tag[i];
	bpf_ringbuf_submit(r, 0);
	return 0;
}
