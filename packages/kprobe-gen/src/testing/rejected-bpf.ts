/**
 * For tests: a probe's BPF object that the kernel's verifier rejects, stored where tw will take
 * it from. No realistic spec the generator accepts was found that the verifier refuses (the
 * generator is written to pass it: bounded loops, bpf_loop for path walks, records checked
 * against map value sizes), so this hook makes one: it compiles the spec's object as tw does
 * (compileBpf, into the given object cache), then compiles the rendered C again with one line
 * injected after the scratch record is looked up — a read 8 bytes past the end of that map
 * value — and puts the result in place of the cache entry's object. A tw process whose
 * $XDG_CACHE_HOME holds that cache then finds the object cached and loads it, and the verifier
 * says "invalid access to map value". Use a private cache directory: the entry is wrong on purpose.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ProbeSpec } from '@tw/probe-spec';
import { compileBpf } from '../bpf/compile-bpf.js';
import { vmlinuxHeader } from '../bpf/vmlinux.js';
import { hostArch } from '../kprobe-events.js';
import { commandLine, run } from '../run.js';

/** Where the injected line goes: right after the main program has its scratch record. */
const AFTER = '\ttw_r = bpf_map_lookup_elem(&tw_scratch, &tw_zero);\n\tif (!tw_r)\n\t\treturn 0;\n';
export const INJECTED_OOB =
  '\t/* injected by @tw/kprobe-gen/testing: a read past the end of the record, which the verifier rejects */\n' +
  '\ttw_r->tw_ts = *(volatile __u64 *)((char *)tw_r + sizeof(*tw_r));\n';

/** The rendered C of a spec with the out-of-bounds read injected into its main program. */
export function injectOutOfBounds(source: string): string {
  const at = source.indexOf(AFTER);
  if (at < 0 || source.indexOf(AFTER, at + 1) >= 0) throw new Error('injectOutOfBounds: the main program\'s scratch lookup is not where the template puts it');
  return source.slice(0, at + AFTER.length) + INJECTED_OOB + source.slice(at + AFTER.length);
}

/**
 * Stores, in `objectCacheDir` (a private $XDG_CACHE_HOME/tw/bpf/objects), the object tw will use
 * for `spec`, with the out-of-bounds read injected. Returns the object's path and the C it was
 * compiled from. Needs clang and bpftool (vmlinux.h), like compileBpf; touches no kernel.
 */
export async function plantRejectedBpfObject(spec: ProbeSpec, opts: { objectCacheDir: string; clang?: string }): Promise<{ object: string; source: string }> {
  const clang = opts.clang ?? 'clang';
  const compiled = await compileBpf(spec, { objectCacheDir: opts.objectCacheDir, clang });
  const vmlinux = (await vmlinuxHeader()).path;
  const source = injectOutOfBounds(compiled.source);
  const dir = dirname(compiled.object);
  const file = `${basename(compiled.object, '.o')}.rejected.c`;
  writeFileSync(join(dir, file), source);
  const arch = hostArch() === 'arm64' ? 'arm64' : 'x86';
  const tmp = `${compiled.object}.rejected.tmp`;
  const args = ['-target', 'bpf', `-D__TARGET_ARCH_${arch}`, '-g', '-O2', '-I', dirname(vmlinux), '-c', file, '-o', tmp];
  const r = await run(clang, args, { cwd: dir, timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`plantRejectedBpfObject: ${commandLine(clang, args)} failed: ${r.stderr}`);
  renameSync(tmp, compiled.object);
  return { object: compiled.object, source };
}
