import type { CulpritFacts } from '@tw/core';

/**
 * What a probe event says of its culprit (fields comm, tgid, ppid, uid, cmdline, where the probe
 * records them): captured in the kernel at the call, so an alert names a process that is gone
 * by the time tw handles the event. The session's process table fills in the rest.
 */
export function culpritFacts(f: Readonly<Record<string, unknown>>): CulpritFacts {
  const out: CulpritFacts = {};
  if (typeof f.comm === 'string' && f.comm !== '') out.comm = f.comm;
  if (typeof f.tgid === 'number' && f.tgid > 0) out.tgid = f.tgid;
  if (typeof f.ppid === 'number') out.ppid = f.ppid;
  if (typeof f.uid === 'number') out.uid = f.uid;
  if (typeof f.cmdline === 'string' && f.cmdline !== '') out.cmdline = f.cmdline;
  return out;
}
