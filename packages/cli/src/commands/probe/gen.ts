import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { TwError, quoted } from '@tw/core';
import { buildModule, eventName, expressibleBy, modelOf, moduleName, probeUp, renderProbe, storeUnpacker, type ProbeBackendName, type ProbeSpec } from '@tw/kprobe-gen';
import { TwCommand } from '../../lib/base.js';
import { makeDir } from '../../lib/make-dir.js';
import { findProbe, loadProbeSpecs } from '../../lib/probes.js';
import { probeBackendFlagWithAlias as probeBackendFlag } from '../../lib/probe-flags.js';

export default class ProbeGen extends TwCommand {
  static override summary = 'Generate, build and load a probe from its spec.';
  static override description = `Renders the probe's kernel module (tw_<name>.c, tw_<name>_trace.h, Kbuild, Makefile), its tracefs kprobe_events definition (tw_<name>.kprobe_events and the bare line in kprobe_events, when kprobe events can express the spec), its TypeScript unpacker (<name>.unpack.ts: the payload's type, layout table and unpack function) and that unpacker compiled to an ES module (<name>.unpack.js) into --out (a directory per probe). It always stores <name>.unpack.ts/.js in the unpacker cache ($XDG_CACHE_HOME/tw/unpackers, by spec hash), where tw watch imports the unpacker for a watch's custom_event handler. Then, unless --no-load, it builds the module against --kdir (default /lib/modules/$(uname -r)/build; cached by spec hash and kernel release) and loads it with insmod — or, with --probe-backend kprobe-events (or where no module can be built), adds the kprobe event. The probe's events then arrive as tw:<name>. Needs root to load. Undo with: tw probe unload <name>. With --all, a probe only BPF can express (a syscall exit) is generated but neither built nor loaded: a BPF probe lives only as long as the tw process that loaded it, so tw watch brings it up for its session.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> unlink',
    '<%= config.bin %> <%= command.id %> --all --out ./probes --no-load',
    '<%= config.bin %> <%= command.id %> kill --probe-backend kprobe-events',
    '<%= config.bin %> <%= command.id %> unlink --kdir /lib/modules/6.12.117+deb12-amd64/build --no-load',
  ];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ description: 'the probe spec (see: tw probe list)' }) };
  static override flags = {
    all: Flags.boolean({ summary: 'Every installed probe spec.' }),
    out: Flags.string({ char: 'o', summary: 'Write the generated files here (one directory per probe).', helpValue: 'DIR' }),
    kdir: Flags.string({ summary: 'Kernel build tree to build the module against.', helpValue: 'DIR' }),
    'probe-backend': probeBackendFlag,
    'no-load': Flags.boolean({ summary: 'Only generate (and with --kdir, build); do not load.' }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(ProbeGen);
    if (!args.name && !flags.all) throw new TwError('BAD_ARGUMENT', 'name a probe (see: tw probe list) or use --all');
    const specs: ProbeSpec[] = flags.all ? (await loadProbeSpecs(this.config)).map((p) => p.spec) : [(await findProbe(this.config, args.name!)).spec];
    const results = [];
    for (const spec of specs) {
      const m = modelOf(spec);
      const event = eventName(spec);
      let dir: string | undefined;
      let written = 0;
      if (flags.out) {
        // spec is the validated, frozen copy (loadProbeSpecs): its name is a plain identifier
        dir = resolve(flags.out, spec.name);
        if (relative(resolve(flags.out), dir).startsWith('..') || dirname(dir) !== resolve(flags.out)) {
          throw new TwError('PROBE_SPEC', `probe ${quoted(spec.name)}: its name would write outside ${flags.out}`);
        }
        makeDir(dir);
        // rendering every file compiles the JS unpacker (loads TypeScript): only when writing them
        const r = renderProbe(spec);
        for (const [file, text] of Object.entries(r.files)) writeFileSync(join(dir, file), text);
        written = Object.keys(r.files).length;
        if ('line' in r.kprobeEvent) {
          writeFileSync(join(dir, 'kprobe_events'), `${r.kprobeEvent.line}\n`);
          written++;
        }
      }
      // where tw watch finds the unpacker (found without TypeScript when already there)
      const unpacker = storeUnpacker(spec);
      let loaded: { backend: ProbeBackendName; notes: string[] } | undefined;
      // with --all, a spec only BPF can express (e.g. a syscall exit) has no module to build and
      // nothing that outlives tw to load: tw watch brings it up for its session
      const can = expressibleBy(spec);
      const bpfOnly = can.module !== true && can['kprobe-events'] !== true;
      if (flags.all && bpfOnly && (!flags['no-load'] || flags.kdir)) {
        if (!this.jsonEnabled()) this.log(`${spec.name}: BPF only (no module or kprobe event can express it): nothing to build or load; tw watch brings it up for its session`);
      } else if (!flags['no-load']) {
        const p = await probeUp(spec, {
          backend: flags['probe-backend'],
          persistent: true,
          ...(flags.kdir ? { kdir: flags.kdir } : {}),
        });
        loaded = { backend: p.backend, notes: p.notes };
      } else if (flags.kdir && flags['probe-backend'] !== 'kprobe-events') {
        const b = await buildModule(spec, { kdir: flags.kdir });
        if (!this.jsonEnabled()) this.log(`${spec.name}: built ${b.ko}${b.cached ? ' (cached)' : ''} for ${b.release}`);
      }
      if (!this.jsonEnabled()) {
        if (dir) this.log(`${spec.name}: wrote ${written} files to ${dir}`);
        this.log(`${spec.name}: unpacker ${unpacker.js}${unpacker.cached ? ' (cached)' : ''}`);
        if (loaded) this.log(`${spec.name}: loaded as ${loaded.backend === 'module' ? `module ${moduleName(spec)}` : 'kprobe event'}; events arrive as ${event}${loaded.notes.length ? ` (${loaded.notes.join('; ')})` : ''}`);
      }
      results.push({ name: spec.name, hash: m.hash, event, dir, unpacker: unpacker.js, loaded: loaded?.backend ?? false });
    }
    return { probes: results };
  }
}
