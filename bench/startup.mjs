#!/usr/bin/env node
// How long `tw watch` takes to start: from spawning the CLI to its "tw: tracing" line (events
// enabled, readers running), then SIGINT and the time to exit. Median and spread of N runs per
// watch, run one after the other (as root, on a machine with tracefs).
//   node bench/startup.mjs [--runs N] [--compare OTHER_CLI] [watch args…]
// (default watches: syscalls, and who-deleted /tmp/x). --compare alternates runs of this
// checkout's tw with another build's bin/run.js, so both see the same machine load.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../packages/cli/bin/run.js', import.meta.url));
const argv = process.argv.slice(2);
let runs = 10;
const i = argv.indexOf('--runs');
if (i >= 0) {
  runs = Number(argv[i + 1]);
  argv.splice(i, 2);
}
let other;
const c = argv.indexOf('--compare');
if (c >= 0) {
  other = argv[c + 1];
  argv.splice(c, 2);
}
const watches = argv.length > 0 ? [argv] : [['syscalls'], ['who-deleted', '/tmp/tw-startup-bench-x']];

function once(args, bin = cli) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(process.execPath, [bin, 'watch', ...args, '--duration', '60s'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let tracing;
    p.stderr.on('data', (d) => {
      err += d;
      if (tracing === undefined && /^tw: tracing /m.test(err)) {
        tracing = Number(process.hrtime.bigint() - t0) / 1e6;
        p.kill('SIGINT');
      }
    });
    p.on('close', (code) => {
      if (tracing === undefined) return reject(new Error(`tw watch ${args.join(' ')} ended before tracing (exit ${code}): ${err}`));
      resolve({ tracing, total: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

const q = (xs, f) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))];
const report = (label, t, total) =>
  console.log(`${label}: to "tw: tracing" median ${q(t, 0.5).toFixed(0)} ms (min ${Math.min(...t).toFixed(0)}, p90 ${q(t, 0.9).toFixed(0)}); start to exit after SIGINT median ${q(total, 0.5).toFixed(0)} ms (${t.length} runs)`);
for (const args of watches) {
  const mine = { t: [], total: [] };
  const theirs = { t: [], total: [] };
  for (let k = 0; k < runs; k++) {
    const r = await once(args);
    mine.t.push(r.tracing);
    mine.total.push(r.total);
    if (other !== undefined) {
      const o = await once(args, other);
      theirs.t.push(o.tracing);
      theirs.total.push(o.total);
    }
  }
  report(`tw watch ${args.join(' ')}`, mine.t, mine.total);
  if (other !== undefined) report(`  ${other}`, theirs.t, theirs.total);
}
