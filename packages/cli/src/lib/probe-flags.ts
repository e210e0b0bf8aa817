/** The --probe-backend flag, with the order `auto` tries from kprobe-gen (the one place it is said). */
import { Flags } from '@oclif/core';
import { PROBE_BACKEND_ORDER, probeBackendOrder, type ProbeBackendName } from '@tw/kprobe-gen';

const flag = (aliases: string[], persistent: boolean) =>
  Flags.custom<ProbeBackendName | 'auto'>({
    summary: persistent
      ? `How to load the probe: auto (${probeBackendOrder('auto', { persistent }).join(', else ')}; a loaded probe outlives tw, so not bpf), or one of ${PROBE_BACKEND_ORDER.join(', ')}.`
      : `How to bring up dynamic probes: auto (an already loaded probe as it is, else ${PROBE_BACKEND_ORDER.join(', else ')}), or one of ${PROBE_BACKEND_ORDER.join(', ')}.`,
    default: 'auto',
    options: ['auto', ...PROBE_BACKEND_ORDER],
    helpValue: 'BACKEND',
    aliases,
  })();

/** For live commands, where --backend is the ring-buffer reader. */
export const probeBackendFlag = flag([], false);

/** For tw probe gen/load, which took the old spelling --backend (still taken, not shown in help); what they load outlives tw. */
export const probeBackendFlagWithAlias = flag(['backend'], true);
