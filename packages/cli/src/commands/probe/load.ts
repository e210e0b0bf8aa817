import { Args, Flags } from '@oclif/core';
import { TwCommand } from '../../lib/base.js';
import { findProbe, probeUp, type ProbeBackend } from '../../lib/probes.js';

export default class ProbeLoad extends TwCommand {
  static override summary = 'Load a probe (build its module if needed, else add its kprobe event).';
  static override examples = ['<%= config.bin %> <%= command.id %> unlink', '<%= config.bin %> <%= command.id %> kill --backend kprobe-events'];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ description: 'the probe spec (see: tw probe list)', required: true }) };
  static override flags = {
    backend: Flags.string({ summary: 'module, kprobe-events, or auto.', default: 'auto', options: ['auto', 'module', 'kprobe-events'] }),
    kdir: Flags.string({ summary: 'Kernel build tree for the module.', helpValue: 'DIR' }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(ProbeLoad);
    const { spec } = await findProbe(this.config, args.name);
    const p = await probeUp(spec, { backend: flags.backend as ProbeBackend | 'auto', ...(flags.kdir ? { kdir: flags.kdir } : {}) });
    if (!this.jsonEnabled()) {
      this.log(`${spec.name}: ${p.ours ? 'loaded' : 'already loaded'} (${p.backend}); events arrive as tw:${spec.name}`);
      for (const n of p.notes) this.logToStderr(`tw: note: ${n}`);
    }
    return { name: spec.name, backend: p.backend, loadedNow: p.ours, notes: p.notes };
  }
}
