import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { Instance, Tracefs, checkTracefsAccess, declaredEvents, eventExists, findTracefs, isTwError, kprobeEventsPath, tracefsCapabilities } from '@tw/core';
import { PROBE_BACKEND_ORDER, bpfProgramKind, clangVersion, expressibleBy, findCachedBpf, findPrebuiltBpf } from '@tw/kprobe-gen';
import { BPF_PROGRAM_TYPES, autoReader, bpfKprobeAttach, bpfProgramTypes, bpfStatus, probeBackends, READER_ORDER } from '@tw/relay-native';
import { TwCommand } from '../lib/base.js';
import { programTypesLine } from '../lib/bpf-types-line.js';
import { loadProbeSpecs } from '../lib/probes.js';
import { loadWatches } from '../lib/watches.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export default class Doctor extends TwCommand {
  static override summary = 'Report what this kernel and machine support, and what that means for each watch.';
  static override description = 'Checks tracefs, privileges, syscall tracepoints, kprobe and uprobe events, loadable modules and kernel headers, BTF, the ring-buffer readers (mmap, read, JS), the BPF loader, which BPF program types this kernel loads (tracepoint, raw_tp, tp_btf, kprobe, fentry, lsm) and where the objects of BPF probes come from (prebuilt in their plugin, cached, or clang), and for every installed watch whether the events it needs exist here. Creates (and removes) one tracefs instance to probe the readers, and loads (never attaches) one minimal BPF program of each type, closing it at once; --json reports the types under bpfProgramTypes.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<unknown> {
    await this.parse(Doctor); // rejects unknown flags and arguments
    const checks: Check[] = [];
    const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
    let root: string | undefined;
    try {
      root = findTracefs();
      add('tracefs', true, `mounted at ${root}`);
    } catch (e) {
      add('tracefs', false, isTwError(e) ? e.message : String(e));
    }
    let canTrace = false;
    if (root) {
      try {
        checkTracefsAccess(root);
        canTrace = true;
        add('privileges', true, `can create instances in ${root}/instances (uid ${process.getuid?.() ?? '?'})`);
      } catch (e) {
        add('privileges', false, (e as Error).message);
      }
    }
    let available: ReadonlySet<string> = new Set<string>();
    if (root && canTrace) {
      const caps = tracefsCapabilities(new Tracefs(root));
      available = caps.events;
      add('syscall tracepoints', caps.rawSyscalls && caps.syscallEvents, `raw_syscalls: ${caps.rawSyscalls ? 'yes' : 'no'}, syscalls:sys_enter_*: ${caps.syscallEvents ? 'yes' : 'no'} (their args are user pointers: file names need probes)`);
      add('kprobe events', caps.kprobeEvents, caps.kprobeEvents ? `${kprobeEventsPath(root)} exists` : 'no kprobe_events (CONFIG_KPROBE_EVENTS off): probes need a module, or are unavailable');
      add('uprobe events', caps.uprobeEvents, caps.uprobeEvents ? 'available' : 'no uprobe_events');
      add('sub-buffer size', true, caps.subbufSizeKb !== undefined ? `configurable (buffer_subbuf_size_kb = ${caps.subbufSizeKb})` : 'fixed: the page size');
      add('trace clocks', true, caps.traceClocks);
      let inst: Instance | undefined;
      try {
        inst = Instance.create(root, { prefix: 'tw' });
        const backends = await probeBackends(inst.dir, inst.cpus()[0] ?? 0);
        const auto = autoReader(backends);
        for (const b of READER_ORDER) {
          const v = backends[b];
          add(`reader: ${b}`, v === true, v === true ? (b === auto ? `works (what --backend auto uses; it tries ${READER_ORDER.join(', ')})` : 'works') : v);
        }
      } catch (e) {
        add('readers', false, (e as Error).message);
      } finally {
        await inst?.remove();
      }
    }
    const modules = existsSync('/proc/modules');
    add('loadable modules', modules, modules ? '/proc/modules exists' : 'this kernel cannot load modules (CONFIG_MODULES off): probes cannot use the module backend');
    const kdir = `/lib/modules/${release()}/build`;
    add('kernel headers', existsSync(kdir), existsSync(kdir) ? kdir : `${kdir} is missing (install the headers package for ${release()})`);
    add('BTF', existsSync('/sys/kernel/btf/vmlinux'), existsSync('/sys/kernel/btf/vmlinux') ? '/sys/kernel/btf/vmlinux' : 'no BTF');
    const bpf = bpfStatus();
    add('BPF loader', bpf === true, bpf === true ? 'libbpf in the addon, privileges and kernel BTF: BPF objects can be loaded here' : bpf);
    const types = bpfProgramTypes();
    const kprobeAttach = bpfKprobeAttach();
    add('BPF program types', BPF_PROGRAM_TYPES.some((t) => types[t] === true), programTypesLine(types, kprobeAttach));
    add('probe backends', true, `--probe-backend auto tries ${PROBE_BACKEND_ORDER.join(', then ')}`);
    // a BPF probe needs its object: prebuilt in its plugin, compiled earlier here, or clang now
    const specs = await loadProbeSpecs(this.config);
    const forBpf = specs.filter((p) => expressibleBy(p.spec).bpf === true);
    const haveObject = new Set(forBpf.filter((p) => findPrebuiltBpf(p.spec, [p.prebuiltDir]).found || findCachedBpf(p.spec) !== undefined).map((p) => p.spec.name));
    const clang = await clangVersion().catch(() => undefined);
    const without = forBpf.filter((p) => !haveObject.has(p.spec.name)).map((p) => p.spec.name);
    const have = `${haveObject.size} of ${forBpf.length} BPF-expressible probe specs have a prebuilt or cached object`;
    add(
      'BPF objects',
      clang !== undefined || without.length === 0,
      clang !== undefined
        ? `${clang} compiles those that have none (${have})`
        : without.length === 0
          ? `no clang, none needed: ${have}`
          : `no clang: ${have}; ${without.join(', ')} cannot run by BPF here (install clang, or plugins built with it)`,
    );

    // the probes' events (tw:<name>) exist live when some backend can bring them up here; by BPF
    // when this kernel loads the kind of program the spec's object holds (tracepoint programs for
    // syscall and tracepoint forms, kprobe programs for kprobe forms, which also need kprobes to
    // attach to)
    const withProbes = new Set(available);
    const kprobeEvents = checks.find((c) => c.name === 'kprobe events')?.ok === true;
    for (const { spec } of specs) {
      const can = expressibleBy(spec);
      const viaModule = modules && existsSync(kdir) && can.module === true;
      const viaKprobe = kprobeEvents && can['kprobe-events'] === true;
      const kind = bpfProgramKind(spec);
      const viaBpf = bpf === true && can.bpf === true && types[kind] === true && (kind !== 'kprobe' || kprobeAttach === true) && (clang !== undefined || haveObject.has(spec.name));
      if (viaModule || viaKprobe || viaBpf) withProbes.add(`tw:${spec.name}`);
    }
    const watches = (await loadWatches(this.config)).map(({ watch }) => {
      let verdict: string;
      if (!canTrace) verdict = 'offline only (--input FILE): live tracing is not possible here';
      else {
        const wanted = declaredEvents(watch, defaultsFor(watch));
        const missing = wanted.filter((p) => !eventExists(withProbes, p));
        verdict = missing.length === wanted.length && wanted.length > 0 ? `cannot run live: none of ${wanted.join(', ')} exists here` : missing.length > 0 ? `runs live (without ${missing.join(', ')})` : 'runs live';
      }
      return { watch: watch.name, verdict };
    });

    if (!this.jsonEnabled()) {
      const w = Math.max(...checks.map((c) => c.name.length));
      for (const c of checks) this.log(`${c.ok ? 'ok  ' : 'no  '} ${c.name.padEnd(w)}  ${c.detail}`);
      this.log('');
      const ww = Math.max(...watches.map((x) => x.watch.length), 5);
      for (const x of watches) this.log(`watch ${x.watch.padEnd(ww)}  ${x.verdict}`);
    }
    return { kernel: release(), checks, watches, bpfProgramTypes: types, bpfKprobeAttach: kprobeAttach };
  }
}

/** Placeholder values for required args, so event lists that depend on args can be shown. */
function defaultsFor(watch: { args?: Record<string, { type: string; default?: unknown }> }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(watch.args ?? {})) out[k] = s.default ?? (s.type === 'integer' ? 0 : s.type === 'boolean' ? false : '');
  return out;
}

