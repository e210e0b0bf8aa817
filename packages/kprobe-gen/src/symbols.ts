/**
 * Before building: every exported kernel function the generated C calls must be exported to
 * modules by the target kernel (its Module.symvers). A missing one is a clear MISSING_SYMBOL
 * error naming the symbol and the kernel, instead of a modpost failure (or, worse, an insmod
 * "Unknown symbol" inside the guest). Example: strncpy_from_user_nofault is not exported on 6.1,
 * which is why the generated code copies strings with copy_from_user_nofault.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TwError } from '@tw/core';
import { modelOf, type ProbeSpec } from '@tw/probe-spec';
import { kernelTree } from './kernels.js';
import { requiredSymbolsOf, type RequiredSymbol } from './render-c.js';

export type { RequiredSymbol };

/** The exported kernel functions the generated module calls by name. */
export function requiredSymbols(spec: ProbeSpec): RequiredSymbol[] {
  return requiredSymbolsOf(modelOf(spec));
}

const cache = new Map<string, { mtimeMs: number; exports: Map<string, string> }>();

/** symbol → exporting object ("vmlinux" or a module path) from <kdir>/Module.symvers */
export function readSymvers(kdir: string): Map<string, string> {
  const file = join(kdir, 'Module.symvers');
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new TwError('KERNEL_HEADERS', `${file} is missing: the headers at ${kdir} cannot build modules`, { cause: e });
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.exports;
  const exports = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // <crc> \t <symbol> \t <module> \t <export type> [\t <namespace>]
    const cols = line.split('\t');
    if (cols.length >= 4 && cols[1]) exports.set(cols[1], cols[2] ?? '');
  }
  cache.set(file, { mtimeMs: st.mtimeMs, exports });
  return exports;
}

/** Throws MISSING_SYMBOL when the kernel at kdir does not export a symbol the generated code calls. */
export function checkSymbols(spec: ProbeSpec, kdir: string): void {
  const tree = kernelTree(kdir);
  const exports = readSymvers(kdir);
  for (const r of requiredSymbols(spec)) {
    if (r.any.some((s) => exports.has(s))) continue;
    const alt = r.any.length !== 1 || r.any[0] !== r.name ? ` (exported as ${r.any.join(' or ')} on the kernels tw knows)` : '';
    throw new TwError(
      'MISSING_SYMBOL',
      `kernel ${tree.utsRelease} (${kdir}) does not export ${r.name}${alt} to modules; probe '${spec.name}' needs it: ${r.why}`,
    );
  }
}
