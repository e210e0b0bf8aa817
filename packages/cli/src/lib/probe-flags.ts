/** The --probe-backend flag, with the order `auto` tries from kprobe-gen (the one place it is said). */
import { Flags } from '@oclif/core';
import { PROBE_BACKEND_ORDER, type ProbeBackendName } from '@tw/kprobe-gen';

const flag = (aliases: string[]) =>
  Flags.custom<ProbeBackendName | 'auto'>({
    summary: `How to bring up dynamic probes: auto (${PROBE_BACKEND_ORDER.join(', else ')}), or one of ${PROBE_BACKEND_ORDER.join(', ')}.`,
    default: 'auto',
    options: ['auto', ...PROBE_BACKEND_ORDER],
    helpValue: 'BACKEND',
    aliases,
  })();

/** For live commands, where --backend is the ring-buffer reader. */
export const probeBackendFlag = flag([]);

/** For tw probe gen/load, which took the old spelling --backend: still taken, not shown in help. */
export const probeBackendFlagWithAlias = flag(['backend']);
