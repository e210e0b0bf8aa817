/** The module backend: a kprobe module built for this kernel (cached), loaded with insmod. */
import { existsSync, writeFileSync } from 'node:fs';
import { TwError } from '@tw/core';
import { buildModule } from '../build.js';
import { loadModule, unloadModule } from '../load.js';
import { modelOf, moduleName, type ProbeSpec } from '@tw/probe-spec';
import { moduleUnsupported } from '../render-c.js';
import type { ProbeBackend, ProbeEnv } from './backend.js';

export const moduleBackend: ProbeBackend = {
  name: 'module',
  unavailable(spec: ProbeSpec, env: ProbeEnv): string | undefined {
    const why = moduleUnsupported(modelOf(spec));
    if (why !== undefined) return why;
    if (!existsSync('/proc/modules')) return 'this kernel cannot load modules (no /proc/modules)';
    if (!existsSync(env.kdir)) return `no kernel build tree at ${env.kdir} (install the kernel headers, or give --kdir)`;
    return undefined;
  },
  async up(spec, env) {
    const built = await buildModule(spec, { kdir: env.kdir, ...(env.outDir ? { outDir: env.outDir } : {}) });
    const notes: string[] = [];
    // the guardian knows of the module before insmod, so a killed tw leaves it unloaded
    const held = { kind: 'module' as const, name: moduleName(spec) };
    env.guard?.hold(held);
    try {
      await loadModule(built.ko, env.params ?? {}, { spec, onNote: (n) => notes.push(n) });
    } catch (e) {
      env.guard?.release(held);
      throw e;
    }
    return {
      filter: undefined,
      notes,
      down: async () => {
        await unloadModule(moduleName(spec), { tracefsRoot: env.tracefs.root });
        env.guard?.release(held);
      },
      // integer and bool parameters are writable (0644): the handler reads them at every hit
      setParams: (params) => {
        for (const [name, v] of Object.entries(params)) {
          const file = `/sys/module/${moduleName(spec)}/parameters/${name}`;
          try {
            writeFileSync(file, typeof v === 'boolean' ? (v ? 'Y' : 'N') : String(v));
          } catch (e) {
            throw new TwError('PROBE_PARAM', `probe '${spec.name}': cannot set its module parameter ${name} (${file}): ${(e as Error).message}`, { cause: e });
          }
        }
      },
    };
  },
};
