import { Args } from '@oclif/core';
import { findTracefs } from '@tw/core';
import { isLoaded, moduleName, removeKprobeEvent, unloadModule } from '@tw/kprobe-gen';
import { TwCommand } from '../../lib/base.js';
import { findProbe } from '../../lib/probes.js';

export default class ProbeUnload extends TwCommand {
  static override summary = 'Unload a probe: rmmod its module or remove its kprobe event.';
  static override examples = ['<%= config.bin %> <%= command.id %> unlink'];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ description: 'the probe spec (see: tw probe list)', required: true }) };

  async run(): Promise<unknown> {
    const { args } = await this.parse(ProbeUnload);
    const { spec } = await findProbe(this.config, args.name);
    const root = findTracefs();
    const state = await isLoaded(spec, { tracefsRoot: root });
    if (state === 'module') await unloadModule(moduleName(spec), { tracefsRoot: root });
    else if (state === 'kprobe-events') await removeKprobeEvent(root, spec);
    if (!this.jsonEnabled()) this.log(state ? `${spec.name}: unloaded (${state})` : `${spec.name}: was not loaded`);
    return { name: spec.name, unloaded: state || false };
  }
}
