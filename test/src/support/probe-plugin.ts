// A user plugin linked from a temporary directory (through TW_DATA_DIR, as `tw plugins link`
// would), shipping one probe spec: for tests that must control where a spec's BPF object comes
// from without touching the shipped plugins' dist/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelOf, validateProbeSpec, type ProbeSpec } from '@tw/probe-spec';

export interface LinkedPlugin {
  /** the environment that makes tw see the plugin (base plus TW_DATA_DIR) */
  env: NodeJS.ProcessEnv;
  /** the plugin's root (its prebuilt objects would be in <root>/dist/bpf) */
  root: string;
  /** the spec hash of the probe */
  hash: string;
}

/** Links a plugin whose only probe is `spec`, under `dir` (plugin/ and data/ are made there). */
export function linkedProbePlugin(dir: string, spec: ProbeSpec, base: NodeJS.ProcessEnv = process.env): LinkedPlugin {
  const root = join(dir, 'plugin');
  const data = join(dir, 'data');
  mkdirSync(root, { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'tw-test-probes', version: '0.0.0', private: true, type: 'module', oclif: {}, tw: { probes: './probes.mjs' } }));
  writeFileSync(join(root, 'probes.mjs'), `export const probes = [${JSON.stringify(spec)}];\n`);
  writeFileSync(join(data, 'package.json'), JSON.stringify({ private: true, oclif: { schema: 1, plugins: [{ name: 'tw-test-probes', type: 'link', root }] }, dependencies: {} }));
  return { env: { ...base, TW_DATA_DIR: data }, root, hash: modelOf(validateProbeSpec(spec)).hash };
}
