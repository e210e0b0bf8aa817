import { Args, Flags } from '@oclif/core';
import { probeUp } from '@tw/kprobe-gen';
import { TwCommand } from '../../lib/base.js';
import { findProbe } from '../../lib/probes.js';
import { probeBackendFlagWithAlias as probeBackendFlag } from '../../lib/probe-flags.js';

export default class ProbeLoad extends TwCommand {
  static override summary = 'Load a probe (build its module if needed, else add its kprobe event).';
  static override examples = ['<%= config.bin %> <%= command.id %> unlink', '<%= config.bin %> <%= command.id %> kill --probe-backend kprobe-events'];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ description: 'the probe spec (see: tw probe list)', required: true }) };
  static override flags = {
    'probe-backend': probeBackendFlag,
    kdir: Flags.string({ summary: 'Kernel build tree for the module.', helpValue: 'DIR' }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(ProbeLoad);
    const { spec } = await findProbe(this.config, args.name);
    const p = await probeUp(spec, { backend: flags['probe-backend'], persistent: true, ...(flags.kdir ? { kdir: flags.kdir } : {}) });
    if (!this.jsonEnabled()) {
      this.log(`${spec.name}: ${p.ours ? 'loaded' : 'already loaded'} (${p.backend}); events arrive as tw:${spec.name}`);
      for (const n of p.notes) this.logToStderr(`tw: note: ${n}`);
    }
    return { name: spec.name, backend: p.backend, loadedNow: p.ours, notes: p.notes };
  }
}
