import { findTracefs } from '@tw/core';
import { eventName, expressibleBy, isLoaded } from '@tw/kprobe-gen';
import { TwCommand } from '../../lib/base.js';
import { loadProbeSpecs } from '../../lib/probes.js';

export default class ProbeList extends TwCommand {
  static override summary = 'List the probe specs of installed plugins, and which are loaded.';
  static override description = 'A probe spec (from a plugin) describes a dynamic probe: where it attaches, which fields it records. BACKENDS lists the mechanisms that can express it (module, kprobe-events, bpf; --json says why the others cannot). "tw probe gen <name>" builds and loads it; its events then arrive as tw:<name>.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<unknown> {
    await this.parse(ProbeList); // rejects unknown flags and arguments
    let root: string | undefined;
    try {
      root = findTracefs({ mount: false });
    } catch {
      root = undefined;
    }
    const rows = [];
    for (const { spec, plugin } of await loadProbeSpecs(this.config)) {
      const attach = Object.entries(spec.attach).map(([k, v]) => `${k}:${String(v)}`).join(' ');
      const loaded = root ? await isLoaded(spec, { tracefsRoot: root }) : false;
      const can = expressibleBy(spec);
      const kprobe = can['kprobe-events'];
      rows.push({
        name: spec.name,
        event: eventName(spec),
        attach,
        plugin,
        loaded: loaded || 'no',
        kprobeEvents: kprobe === true ? 'yes' : `no: ${kprobe}`,
        // per backend: true, or why it cannot express this spec
        backends: can,
        fields: spec.fields.map((f) => f.name),
      });
    }
    if (!this.jsonEnabled()) {
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      const a = Math.max(6, ...rows.map((r) => r.attach.length));
      this.log(`${'NAME'.padEnd(w)}  ${'ATTACH'.padEnd(a)}  LOADED         ${'BACKENDS'.padEnd(27)}  PLUGIN`);
      for (const r of rows) {
        const backends = Object.entries(r.backends).filter(([, v]) => v === true).map(([k]) => k).join(',') || 'none';
        this.log(`${r.name.padEnd(w)}  ${r.attach.padEnd(a)}  ${String(r.loaded).padEnd(13)}  ${backends.padEnd(27)}  ${r.plugin}`);
      }
    }
    return { probes: rows };
  }
}
