#!/usr/bin/env node
// `npm run fuzz -- [--seed N] [--cases M] [--cli-cases K] [--parallel P]`: the fuzz harness
// (test/src/fuzz.test.ts) on demand, for a longer run or another seed than CI's (seed 1, 2,000
// cases, 36 of them through the tw binary). A failing run names each bad case and keeps its
// bytes in $TMPDIR/tw-fuzz-failures-seed-<N>/; the same seed and count give the same cases.
// Build first (`npm run build`): the cases run on the built packages and the tw binary.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FLAGS = { '--seed': 'TW_FUZZ_SEED', '--cases': 'TW_FUZZ_CASES', '--cli-cases': 'TW_FUZZ_CLI_CASES', '--parallel': 'TW_FUZZ_PARALLEL' };
const env = { ...process.env };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const [flag, inline] = argv[i].split('=', 2);
  const name = FLAGS[flag];
  const value = inline ?? argv[++i];
  if (name === undefined || value === undefined || !/^\d+$/.test(value)) {
    console.error(`tw-fuzz: usage: npm run fuzz -- [--seed N] [--cases M] [--cli-cases K] [--parallel P] (got '${argv.slice(0).join(' ')}')`);
    process.exit(2);
  }
  env[name] = value;
}
console.log(`tw-fuzz: seed ${env.TW_FUZZ_SEED ?? 1}, ${env.TW_FUZZ_CASES ?? 2000} cases (${env.TW_FUZZ_CLI_CASES ?? 36} through the tw binary)`);
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const r = spawnSync(npx, ['vitest', 'run', '--project', 'unit', 'test/src/fuzz.test.ts'], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
