// SPDX-License-Identifier: GPL-2.0-only
// The record every tw BPF object writes to its `tw_events` ring buffer, and the maps the
// loader expects (packages/relay-native/README.md, "BPF probes"). Test fixtures only: the
// probe generator emits its own copy of this contract.
#pragma once

/** Ring buffer the loader polls; its records are read, never interpreted, by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} tw_events SEC(".maps");

/** Records bpf_ringbuf_reserve() could not place, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tw_lost SEC(".maps");

/** What precedes the payload: when, where, how many bytes follow. */
struct tw_record_head {
	__u64 ts;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 cpu;
	__u32 len; /* bytes after this head: the common header and the payload */
};

/** ftrace's common fields, so a payload decodes like a trace event's. */
struct tw_common {
	__u16 common_type; /* 0: the consumer knows the event from the object it loaded */
	__u8 flags;
	__u8 preempt;
	__s32 pid; /* the thread */
};

static __always_inline void tw_count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&tw_lost, &zero);

	if (n)
		*n += 1; /* per-CPU value: no other CPU writes it */
}
