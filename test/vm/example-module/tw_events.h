/* SPDX-License-Identifier: GPL-2.0 */
/* TRACE_EVENT definitions for the tw demo module (sink b: tracefs).
 * Builds on 6.1 and 6.12. */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM tw

/*
 * __assign_str() takes (field, src) up to 6.9 and only (field) from 6.10 on (the source is the
 * one given to __string()): both forms are handled below.
 */
#include <linux/version.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define TW_ASSIGN_STR(field, src) __assign_str(field)
#else
#define TW_ASSIGN_STR(field, src) __assign_str(field, src)
#endif

#if !defined(_TW_EVENTS_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TW_EVENTS_H

#include <linux/tracepoint.h>

TRACE_EVENT(tw_unlink,
	TP_PROTO(u32 src, pid_t pid, const char *comm, int dfd, const char *path),
	TP_ARGS(src, pid, comm, dfd, path),
	TP_STRUCT__entry(
		__field(u32, src)
		__field(pid_t, pid)
		__array(char, comm, 16)
		__field(int, dfd)
		__string(path, path)
	),
	TP_fast_assign(
		__entry->src = src;
		__entry->pid = pid;
		memcpy(__entry->comm, comm, 16);
		__entry->dfd = dfd;
		TW_ASSIGN_STR(path, path);
	),
	TP_printk("src=%u pid=%d comm=%s dfd=%d path=%s",
		  __entry->src, __entry->pid, __entry->comm, __entry->dfd,
		  __get_str(path))
);

#endif /* _TW_EVENTS_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE tw_events
#include <trace/define_trace.h>
