#!/usr/bin/env node
// `npm test`: the three vitest projects one after the other — unit, kernel (root + tracefs),
// vm (qemu guest) — each through its own `npm run test:<project>` script, with vitest's output
// as it comes. After each: `tw-test: <project> <seconds> s <pass|fail>`. Every project runs even
// if one before it failed; then `tw-test: all <seconds> s <pass|fail>`, and the exit status is
// non-zero if any failed.
// `node scripts/test-all.mjs kernel vm` runs only those.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECTS = ['unit', 'kernel', 'vm'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const wanted = process.argv.slice(2);
for (const p of wanted) {
  if (!PROJECTS.includes(p)) {
    console.error(`tw-test: unknown project '${p}' (projects: ${PROJECTS.join(', ')})`);
    process.exit(2);
  }
}

const results = [];
for (const project of wanted.length > 0 ? wanted : PROJECTS) {
  const start = process.hrtime.bigint();
  const r = spawnSync(npm, ['run', '--silent', `test:${project}`], { cwd: root, stdio: 'inherit' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const ok = r.status === 0;
  if (r.error) console.error(`tw-test: could not run npm run test:${project}: ${r.error.message}`);
  else if (r.signal) console.error(`tw-test: npm run test:${project} was killed by ${r.signal}`);
  console.log(`tw-test: ${project} ${seconds.toFixed(1)} s ${ok ? 'pass' : 'fail'}`);
  results.push({ project, seconds, ok });
}

if (results.length > 1) {
  const total = results.reduce((n, r) => n + r.seconds, 0);
  const failed = results.filter((r) => !r.ok).map((r) => r.project);
  console.log(`tw-test: all ${total.toFixed(1)} s ${failed.length === 0 ? 'pass' : `fail (${failed.join(', ')})`}`);
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
