/**
 * Attaching and detaching probes on the running kernel:
 *   module backend:        loadModule (insmod with params, plus struct mount offsets from BTF
 *                          for path() across mounts), unloadModule (rmmod)
 *   kprobe_events backend: addKprobeEvent, removeKprobeEvent (tracefs kprobe_events)
 * plus isLoaded. Writes to kprobe_events/dynamic_events always append (a truncating write would
 * delete every dynamic event on the system); a rejected write is reported with the kernel's
 * error_log. Dynamic events (eprobes) attached to a probe's event are removed first: the kernel
 * refuses to remove an event (or unload its module) while one is attached.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  addKprobeEventLine,
  detachFromEvent,
  hasKprobeEvents,
  isTwError,
  kprobeEventDefined,
  mountedTracefs,
  removeKprobeEventLine,
  setDynamicEventFilter,
  TwError,
} from '@tw/core';
import { modelOf, paramValueProblem, type ProbeSpec } from '@tw/probe-spec';
import { memberLayoutsFromBtf } from './btf-members.js';
import { MOUNT_PARAMS, mountOffsetsFromBtf, mountOffsetsProblem, mountParams, moduleTakesMountOffsets, type MountOffsets } from './mount-offsets.js';
import { missingStruct, renderKprobeEvent, type KprobeEventDefinition, type KprobeEventOptions } from './kprobe-events.js';
import { run } from './run.js';

export type ParamValue = number | bigint | boolean | string;

export interface LoadOptions {
  /** the insmod program (default "insmod") */
  insmod?: string;
  /** validate `params` against this spec's params (names and types) */
  spec?: ProbeSpec;
  /**
   * For a module whose path() crosses mounts (it takes the tw_mnt_* parameters, see
   * mount-offsets.ts): the struct mount offsets to pass. Default: read from `btf` with pahole,
   * and when that fails, load without them (its paths then stay inside each file's filesystem)
   * and tell `onNote` why. false: pass none, say nothing.
   */
  mountOffsets?: MountOffsets | false;
  /** BTF of the kernel the module is loaded into (default /sys/kernel/btf/vmlinux) */
  btf?: string;
  /** the pahole program (default "pahole") */
  pahole?: string;
  /** hears one line when the module is loaded without struct mount offsets, and why */
  onNote?: (note: string) => void;
}

/**
 * The tw_mnt_* parameters for a module that takes them: the given offsets, else those read
 * from BTF; none (and a note) when they cannot be read.
 */
async function mountParamsFor(ko: string, opts: LoadOptions): Promise<Record<string, number>> {
  if (opts.mountOffsets === false || !(await moduleTakesMountOffsets(ko))) return {};
  if (opts.mountOffsets !== undefined) {
    const problem = mountOffsetsProblem(opts.mountOffsets);
    if (problem) throw new TwError('BAD_ARGUMENT', `struct mount offsets for ${basename(ko)}: ${problem}`);
    return mountParams(opts.mountOffsets);
  }
  try {
    return mountParams(await mountOffsetsFromBtf({ ...(opts.btf !== undefined ? { btf: opts.btf } : {}), ...(opts.pahole !== undefined ? { pahole: opts.pahole } : {}) }));
  } catch (e) {
    if (!isTwError(e)) throw e;
    const why = e.code === 'TOOL_START' ? `${opts.pahole ?? 'pahole'} is not installed or cannot run` : e.message.split('\n')[0]!;
    opts.onNote?.(`${moduleNameOfKo(ko)}: path() stays inside each file's filesystem (mount points not crossed): no struct mount layout: ${why}`);
    return {};
  }
}

const PARAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const PARAM_VALUE = /^[A-Za-z0-9_.,:/@+=-]{0,128}$/;

function paramArg(name: string, value: ParamValue): string {
  if (!PARAM_NAME.test(name)) throw new TwError('BAD_ARGUMENT', `module parameter name '${name}' is not valid`);
  const v = typeof value === 'boolean' ? (value ? 'Y' : 'N') : String(value);
  // insmod joins its arguments with spaces into one string the kernel splits again: no spaces, quotes or '='-tricks
  if (!PARAM_VALUE.test(v)) throw new TwError('BAD_ARGUMENT', `module parameter ${name}: value '${v.slice(0, 40)}' may only contain [A-Za-z0-9_.,:/@+=-]`);
  return `${name}=${v}`;
}

/** The module name of a .ko path ("/x/tw_unlink.ko" → "tw_unlink"). */
export function moduleNameOfKo(ko: string): string {
  return basename(ko).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/**
 * insmod a module with parameters (and, for a module whose path() crosses mounts, the struct
 * mount offsets: see LoadOptions.mountOffsets). Returns the module's name. Throws TOOL_START
 * (insmod could not be started) or MODULE_LOAD (insmod failed: the kernel's reason, e.g. a
 * missing symbol, a kprobe that could not be placed, the module already loaded, impossible
 * struct mount offsets).
 */
export async function loadModule(ko: string, params: Readonly<Record<string, ParamValue>> = {}, opts: LoadOptions = {}): Promise<string> {
  if (!existsSync(ko)) throw new TwError('FILE_NOT_FOUND', `module ${ko} does not exist`);
  if (opts.spec) {
    const m = modelOf(opts.spec);
    for (const [k, v] of Object.entries(params)) {
      const p = m.params.find((x) => x.name === k);
      if (!p) throw new TwError('BAD_ARGUMENT', `probe '${m.name}' has no parameter '${k}' (it has: ${m.params.map((x) => x.name).join(', ') || 'none'})`);
      const problem = paramValueProblem(p.type, v);
      if (problem) throw new TwError('BAD_ARGUMENT', `probe '${m.name}', parameter ${k}: ${problem}`);
    }
  }
  for (const k of Object.keys(params)) {
    if (Object.values(MOUNT_PARAMS).includes(k as never)) throw new TwError('BAD_ARGUMENT', `module parameter ${k} is tw's own: give struct mount offsets as mountOffsets`);
  }
  const name = moduleNameOfKo(ko);
  const mount = await mountParamsFor(ko, opts);
  const args = [ko, ...Object.entries({ ...params, ...mount }).map(([k, v]) => paramArg(k, v))];
  const r = await run(opts.insmod ?? 'insmod', args);
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim();
    const hint = /File exists/.test(why)
      ? ' (a module of that name is already loaded: unload it first)'
      : /Unknown symbol|Invalid parameters/.test(why)
        ? ' (see dmesg for the symbol or parameter)'
        : /Operation not permitted/.test(why)
          ? ' (needs root; or module loading is disabled / signature enforced)'
          : /No such file or directory|Invalid argument|Cannot assign requested address/.test(why)
            ? ' (the module could not attach its probe: the symbol may not exist, be ambiguous or not be probe-able on this kernel; see dmesg)'
            : '';
    throw new TwError('MODULE_LOAD', `insmod ${basename(ko)} failed (exit ${r.exitCode}): ${why}${hint}`);
  }
  return name;
}

export interface UnloadOptions {
  /** tracefs mount point (default /sys/kernel/tracing when it exists) */
  tracefsRoot?: string;
  /** the rmmod program (default "rmmod") */
  rmmod?: string;
  procModules?: string;
}

/** Is a module (by name) in /proc/modules? */
export async function moduleLoaded(name: string, procModules = '/proc/modules'): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(procModules, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((l) => l.startsWith(`${name} `));
}

/** The mounted tracefs's root, when there is one. */
function defaultTracefs(): string | undefined {
  return mountedTracefs()?.root;
}

/**
 * rmmod a probe module (name "tw_<spec>"), after removing the dynamic events attached to its
 * event. Returns false when it was not loaded. Throws TOOL_START or MODULE_LOAD.
 */
export async function unloadModule(name: string, opts: UnloadOptions = {}): Promise<boolean> {
  if (!/^[A-Za-z0-9_]{1,55}$/.test(name)) throw new TwError('BAD_ARGUMENT', `'${name}' is not a module name`);
  if (!(await moduleLoaded(name, opts.procModules))) return false;
  const root = opts.tracefsRoot ?? defaultTracefs();
  if (root && name.startsWith('tw_')) detachFromEvent(root, 'tw', name.slice(3));
  const r = await run(opts.rmmod ?? 'rmmod', [name]);
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim();
    throw new TwError('MODULE_LOAD', `rmmod ${name} failed (exit ${r.exitCode}): ${why}${/in use/.test(why) ? ' (something still holds it: an attached event probe, an open trace pipe, or another module)' : ''}`);
  }
  return true;
}

export interface AddKprobeEventOptions extends KprobeEventOptions {
  /** tracefs instance dirs whose events/tw/<name>/filter get the translated filter (the top level always does) */
  instances?: readonly string[];
  /**
   * When the spec reads struct members and `members` is not given, read their offsets from this
   * BTF with pahole (default /sys/kernel/btf/vmlinux, when it exists; false: never).
   */
  btf?: string | false;
}

/**
 * Define the spec's kprobe event (append to kprobe_events) and set its filter. Throws
 * PROBE_UNSUPPORTED (not expressible), PROBE_REJECTED (the kernel refused it; the message quotes
 * error_log) or TRACEFS.
 */
export async function addKprobeEvent(tracefsRoot: string, spec: ProbeSpec, opts: AddKprobeEventOptions = {}): Promise<KprobeEventDefinition> {
  let members = opts.members;
  const btf = opts.btf ?? '/sys/kernel/btf/vmlinux';
  if (members === undefined && btf !== false && existsSync(btf) && missingStruct(spec, opts) !== undefined) {
    members = await memberLayoutsFromBtf(spec, { btf, ...(opts.arch ? { arch: opts.arch } : {}) });
  }
  const def = renderKprobeEvent(spec, { ...opts, ...(members ? { members } : {}) });
  addKprobeEventLine(tracefsRoot, def.line);
  if (def.filter !== undefined) {
    try {
      setDynamicEventFilter(tracefsRoot, [tracefsRoot, ...(opts.instances ?? [])], 'tw', spec.name, def.filter);
    } catch (e) {
      removeKprobeEventLine(tracefsRoot, 'tw', spec.name, true);
      throw e;
    }
  }
  return def;
}

/**
 * Remove the spec's kprobe event (after detaching event probes and disabling it).
 * Returns false when it was not defined.
 */
export async function removeKprobeEvent(tracefsRoot: string, spec: ProbeSpec): Promise<boolean> {
  if (!hasKprobeEvents(tracefsRoot) || !kprobeEventDefined(tracefsRoot, 'tw', spec.name)) return false;
  detachFromEvent(tracefsRoot, 'tw', spec.name);
  removeKprobeEventLine(tracefsRoot, 'tw', spec.name);
  return true;
}

export interface IsLoadedOptions {
  tracefsRoot?: string;
  procModules?: string;
}

/** How the spec's probe is attached right now: 'module', 'kprobe-events', or false. */
export async function isLoaded(spec: ProbeSpec, opts: IsLoadedOptions = {}): Promise<'module' | 'kprobe-events' | false> {
  if (await moduleLoaded(`tw_${spec.name}`, opts.procModules)) return 'module';
  const root = opts.tracefsRoot ?? defaultTracefs();
  if (root && kprobeEventDefined(root, 'tw', spec.name)) return 'kprobe-events';
  return false;
}
