/**
 * Renders a probe spec into its generated files, one handlebars template per file:
 *
 *   tw_<name>.c, tw_<name>_trace.h, Kbuild, Makefile   the kernel module
 *   tw_<name>.kprobe_events                           the tracefs definition (when expressible)
 *   <name>.unpack.ts                                  the typed unpacker and layout table
 *   <name>.unpack.js                                  the same, compiled to an ES module (what tw runs)
 *
 * Templates are compiled with strict, noEscape and knownHelpersOnly; all code fragments are
 * computed in TS (render-c.ts, kprobe-events.ts) from the validated spec, so templates only lay
 * them out. Every file starts with a header naming the generator, the spec and its hash. The JS
 * unpacker is compiled from the TS one (transpile.ts), so the two cannot disagree.
 */
import { TwError } from '@tw/core';
import { layoutFor, modelOf, pascalCase, type FieldInfo, type ProbeModel, type ProbeSpec } from '@tw/probe-spec';
import { bpfFileName, tryRenderBpf } from './bpf/render-bpf.js';
import { tryRenderKprobeEvent, hostArch, type KprobeEventDefinition, type KprobeEventOptions } from './kprobe-events.js';
import { cModuleView, moduleUnsupported, sourceText, traceHeaderView } from './render-c.js';
import { GENERATOR, header, templates, wrap } from './templates.js';
import { transpileUnpacker } from './transpile.js';

export { GENERATOR, generatorId } from './templates.js';

export interface RenderOptions extends KprobeEventOptions {}

export interface RenderedProbe {
  readonly name: string;
  /** tw_<name> */
  readonly module: string;
  /** tw:<name> */
  readonly event: string;
  readonly hash: string;
  /** file name → content */
  readonly files: Readonly<Record<string, string>>;
  /** the kprobe_events definition, or why kprobe events cannot express this spec */
  readonly kprobeEvent: KprobeEventDefinition | { readonly unsupported: string };
  /** the BPF C file's name (tw_<name>.bpf.c), or why BPF cannot express this spec */
  readonly bpf: { readonly file: string } | { readonly unsupported: string };
  /** undefined when the module's files were rendered, else why the module cannot express the spec */
  readonly moduleUnsupported?: string;
}

function what(m: ProbeModel): string {
  const args = m.args.map((a) => `${a.type.text}${a.type.text.endsWith('*') ? '' : ' '}${a.name}`).join(', ');
  switch (m.kind) {
    case 'kprobe':
      return `kprobe on ${m.target}(${args}) -> event tw:${m.name}`;
    case 'kretprobe':
      return `kretprobe on ${m.target}(${args}) returning ${m.returns!.text} -> event tw:${m.name}`;
    case 'syscall':
      return `kprobe on the ${m.target}(${args}) syscall wrapper (__x64_sys_${m.target} / __arm64_sys_${m.target}) -> event tw:${m.name}`;
    case 'syscall_exit':
    case 'tracepoint':
      // the module cannot express these (moduleUnsupported); only the BPF C names them
      return `${m.kind} ${m.target} -> event tw:${m.name}`;
  }
}

function tsType(f: FieldInfo): string {
  if (f.kind === 'string') return 'string';
  if (f.kind === 'bytes') return 'Uint8Array';
  if (f.scalar === 'u64' || f.scalar === 's64') return 'bigint';
  if (f.scalar === 'bool') return 'boolean';
  return 'number';
}

function tsInit(f: FieldInfo): string {
  if (f.kind === 'string') return "''";
  if (f.kind === 'bytes') return 'new Uint8Array(0)';
  if (f.scalar === 'u64' || f.scalar === 's64') return '0n';
  if (f.scalar === 'bool') return 'false';
  return '0';
}

function tsRead(f: FieldInfo, offset: number, size: number): string {
  const at = `offset + ${offset}`;
  const dst = `o.${f.name}`;
  if (f.kind === 'string') return `${dst} = dataLocString(view, offset, ${offset}, littleEndian);`;
  if (f.kind === 'bytes') return `${dst} = new Uint8Array(view.buffer, view.byteOffset + ${at}, ${size});`;
  switch (f.scalar!) {
    case 'u8': return `${dst} = view.getUint8(${at});`;
    case 's8': return `${dst} = view.getInt8(${at});`;
    case 'bool': return `${dst} = view.getUint8(${at}) !== 0;`;
    case 'u16': return `${dst} = view.getUint16(${at}, littleEndian);`;
    case 's16': return `${dst} = view.getInt16(${at}, littleEndian);`;
    case 'u32': return `${dst} = view.getUint32(${at}, littleEndian);`;
    case 's32': case 'pid': return `${dst} = view.getInt32(${at}, littleEndian);`;
    case 'u64': return `${dst} = view.getBigUint64(${at}, littleEndian);`;
    case 's64': return `${dst} = view.getBigInt64(${at}, littleEndian);`;
  }
}

function typeDoc(f: FieldInfo): string {
  const t = f.kind === 'string' ? `string (up to ${f.len - 1} bytes)` : f.kind === 'bytes' ? `${f.len} bytes` : f.scalar!;
  const from = f.alias ? 'pid (the record\'s common_pid)' : sourceText(f);
  return `${t}, from ${from}${f.description ? `: ${f.description}` : ''}`;
}

/** Render every generated file of a spec (validates it first). */
export function renderProbe(spec: ProbeSpec, opts: RenderOptions = {}): RenderedProbe {
  const r = renderSources(spec, opts);
  const unpackFile = `${r.name}.unpack.ts`;
  return { ...r, files: { ...r.files, [`${r.name}.unpack.js`]: transpileUnpacker(r.files[unpackFile]!, unpackFile) } };
}

/** Every generated file but the compiled <name>.unpack.js (which needs the TypeScript compiler). */
function renderSources(spec: ProbeSpec, opts: RenderOptions = {}): RenderedProbe {
  return renderSourcesOf(spec, modelOf(spec), opts);
}

type CommonView = ReturnType<typeof commonView>;

/** What every template of a spec gets. */
function commonView(m: ProbeModel) {
  const module = `tw_${m.name}`;
  return {
    header: header(m),
    name: m.name,
    hash: m.hash,
    module,
    cFile: `${module}.c`,
    traceFile: `${module}_trace.h`,
    unpackFile: `${m.name}.unpack.ts`,
    what: what(m),
  };
}

/** The module's files: tw_<name>.c, tw_<name>_trace.h, Kbuild, Makefile (the spec must be expressible). */
function moduleFiles(m: ProbeModel, common: CommonView): Record<string, string> {
  const t = templates();
  const spec = m.spec;
  const { module, cFile, traceFile } = common;
  const constPrefix = m.name.toUpperCase();
  const c = cModuleView(m);
  const usesUregs = m.kind === 'syscall' && c.argAssigns.length > 0;
  const files: Record<string, string> = {};
  files[cFile] = t['module.c']({
    ...common,
    descriptionLines: spec.description ? wrap(spec.description) : [],
    c,
    layoutConst: `${constPrefix}_LAYOUT`,
    isSyscall: m.kind === 'syscall',
    isKretprobe: m.kind === 'kretprobe',
    usesUregs,
    target: m.target,
    symbolC: m.kind === 'syscall' ? 'TW_SYSCALL_SYMBOL' : `"${m.target}"`,
    valsStruct: `${module}_vals`,
    entryCount: c.entrySaves.length,
    moduleDescription: `tw probe ${m.name}: ${spec.description ?? what(m).replace(/"/g, '')}`,
  });
  files[traceFile] = t['trace.h']({
    ...common,
    trace: traceHeaderView(m),
    valsStruct: `${module}_vals`,
    valsGuard: `TW_${constPrefix}_VALS_H`,
    traceGuard: `_TW_${constPrefix}_TRACE_H`,
    traceBase: `${module}_trace`,
    assignStr: `TW_${constPrefix}_ASSIGN_STR`,
  });
  files.Kbuild = t.Kbuild(common);
  files.Makefile = t.Makefile(common);
  return files;
}

/** Render every generated file but the compiled <name>.unpack.js (which needs the TypeScript compiler). */
function renderSourcesOf(spec: ProbeSpec, m: ProbeModel, opts: RenderOptions): RenderedProbe {
  const t = templates();
  const module = `tw_${m.name}`;
  const unpackFile = `${m.name}.unpack.ts`;
  const typeName = pascalCase(m.name);
  const constPrefix = m.name.toUpperCase();
  const layout = layoutFor(spec);
  const common = commonView(m);
  const files: Record<string, string> = {};
  const noModule = moduleUnsupported(m);
  if (noModule === undefined) Object.assign(files, moduleFiles(m, common));

  const stored = new Map(layout.map((e) => [e.field, e]));
  files[unpackFile] = t['unpack.ts']({
    ...common,
    typeName,
    constPrefix,
    interfaceDoc: `tw:${m.name}${spec.description ? ` — ${spec.description}` : ''}`,
    tsFields: m.fields.map((f) => ({ name: f.name, tsType: tsType(f), doc: typeDoc(f) })),
    layout,
    initializer: m.fields.map((f) => `${f.name}: ${tsInit(f)}`).join(', '),
    reads: m.fields.map((f) => {
      const e = stored.get(f.name)!;
      return tsRead(f, e.offset, e.size);
    }),
  });

  const arch = opts.arch ?? hostArch();
  const kprobeEvent = tryRenderKprobeEvent(spec, { ...opts, arch });
  if (!('unsupported' in kprobeEvent)) {
    files[`${module}.kprobe_events`] = t.kprobe_events({
      ...common,
      arch,
      line: kprobeEvent.line,
      hasFilter: kprobeEvent.filter !== undefined,
      filter: kprobeEvent.filter ?? '',
    });
  }

  const bpf = tryRenderBpf(spec);
  if (typeof bpf === 'string') files[bpfFileName(m)] = bpf;

  return {
    name: m.name,
    module,
    event: `tw:${m.name}`,
    hash: m.hash,
    files,
    kprobeEvent,
    bpf: typeof bpf === 'string' ? { file: bpfFileName(m) } : bpf,
    ...(noModule !== undefined ? { moduleUnsupported: noModule } : {}),
  };
}

/**
 * Only the module's files (tw_<name>.c, tw_<name>_trace.h, Kbuild, Makefile). Throws
 * PROBE_UNSUPPORTED when the module cannot express the spec.
 */
export function renderModuleFiles(spec: ProbeSpec): Record<string, string> {
  const m = modelOf(spec);
  const why = moduleUnsupported(m);
  if (why !== undefined) throw new TwError('PROBE_UNSUPPORTED', why);
  const { files, module } = renderSources(spec);
  return {
    [`${module}.c`]: files[`${module}.c`]!,
    [`${module}_trace.h`]: files[`${module}_trace.h`]!,
    Kbuild: files.Kbuild!,
    Makefile: files.Makefile!,
  };
}

/** Only the TS unpacker (<name>.unpack.ts). */
export function renderUnpacker(spec: ProbeSpec): string {
  return renderSources(spec).files[`${spec.name}.unpack.ts`]!;
}

/** Only the unpacker compiled to an ES module (<name>.unpack.js); loads the TypeScript compiler. */
export function renderUnpackerJs(spec: ProbeSpec): string {
  return transpileUnpacker(renderUnpacker(spec), `${spec.name}.unpack.ts`);
}
