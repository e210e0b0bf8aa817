/** The module backend: a kprobe module built for this kernel (cached), loaded with insmod. */
import { existsSync } from 'node:fs';
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
    await loadModule(built.ko, env.params ?? {}, { spec, onNote: (n) => notes.push(n) });
    return {
      filter: undefined,
      notes,
      down: async () => {
        await unloadModule(moduleName(spec), { tracefsRoot: env.tracefs.root });
      },
    };
  },
};
