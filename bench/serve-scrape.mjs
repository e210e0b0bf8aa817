#!/usr/bin/env node
// What a Prometheus scrape of tw serve costs, for docs/fleet.md: starts `tw serve` with a config
// (default: the fleet example — syscalls and who-killed of pid 1), lets it trace the machine's
// own activity for --warmup seconds (so the per-syscall series exist), then
//   series per host   the sample lines of one /metrics answer (tw's, the watches', the process's)
//   bytes per scrape  the size of that answer (uncompressed, and gzip as Prometheus asks for it)
//   CPU per scrape    the rendering on the tracing thread (tw's own tw_metrics_render_seconds_total
//                     over tw_metrics_renders_total), the HTTP thread's CPU time per scrape (from
//                     /proc/PID/task: the thread at nice 19), and, for reference, the whole process:
//                     tw's CPU time (utime + stime, from /proc) over --scrapes
//                     scrapes, less its CPU time over as long without scrapes (quiet and
//                     scraped stretches alternate, ten of each) (what tracing itself costs meanwhile), divided by the scrapes —
//                     on a busy machine that difference is mostly noise (tracing its activity);
//                     scrapes are spaced 1.1 s apart so each one renders (no reuse of the last)
//   node bench/serve-scrape.mjs [--config FILE] [--scrapes 100] [--warmup 20]
// As root, with tracefs. The last line is a JSON summary.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '..', 'packages', 'cli', 'bin', 'run.js');
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const scrapes = Number(opt('scrapes', '100'));
const warmup = Number(opt('warmup', '20'));
const dir = mkdtempSync(join(tmpdir(), 'tw-serve-bench-'));
const port = 19000 + (process.pid % 1000);
const config = opt('config', undefined);
const configPath = join(dir, 'serve.yaml');
const body = config ? readFileSync(config, 'utf8').replace(/^listen:.*$/m, '') : 'labels: { site: lab }\nwatches:\n  - watch: syscalls\n  - watch: who-killed\n    args: ["1"]\n    keep-going: true\n';
writeFileSync(configPath, `listen: 127.0.0.1:${port}\n${body}`);

const tw = spawn(process.execPath, [cli, 'serve', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
await new Promise((resolve, reject) => {
  tw.stderr.on('data', (d) => {
    stderr += d.toString();
    if (/^tw: tracing /m.test(stderr)) resolve();
  });
  tw.on('close', () => reject(new Error(`tw serve ended: ${stderr}`)));
});

const get = (headers = {}) =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.end();
  });
const cpu = () => {
  const f = readFileSync(`/proc/${tw.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
};
/** CPU seconds by thread kind: tw's main (tracing) thread, the HTTP thread (the one at nice 19), the rest. */
const threads = () => {
  const out = { main: 0, http: 0, other: 0 };
  for (const t of readdirSync(`/proc/${tw.pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${tw.pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
      const s = (Number(f[11]) + Number(f[12])) / 100;
      out[Number(t) === tw.pid ? 'main' : Number(f[16]) === 19 ? 'http' : 'other'] += s;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
};
const minus = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, Number((a[k] - b[k]).toFixed(2))]));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await sleep(warmup * 1000);
const text = (await get()).toString();
const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const byFamily = {};
for (const l of lines) {
  const name = l.replace(/[{ ].*$/, '');
  const fam = name.startsWith('tw_') ? (/^tw_(syscalls|who_killed|syscall_times|allcounts|who_deleted|who_modified)_/.test(name) ? 'watches' : 'tw') : 'process';
  byFamily[fam] = (byFamily[fam] ?? 0) + 1;
}
const gz = gzipSync(Buffer.from(text)).length;

const spacing = 1100;
// quiet and scraped stretches alternate (10 of each, 1/10 of the scrapes each): the machine's own
// activity, which tw traces, drifts over minutes; alternating cancels most of that drift
const rounds = 10;
const per = Math.max(1, Math.round(scrapes / rounds));
let quiet = 0;
let busy = 0;
const zero = { main: 0, http: 0, other: 0 };
let quietT = { ...zero };
let busyT = { ...zero };
const add = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] + b[k]]));
let elapsed = 0;
for (let r = 0; r < rounds; r++) {
  const q0 = cpu();
  const qT0 = threads();
  await sleep(per * spacing);
  quiet += cpu() - q0;
  quietT = add(quietT, minus(threads(), qT0));
  const b0 = cpu();
  const bT0 = threads();
  const t0 = Date.now();
  for (let i = 0; i < per; i++) {
    const s = Date.now();
    await get();
    await sleep(Math.max(0, spacing - (Date.now() - s)));
  }
  elapsed += (Date.now() - t0) / 1000;
  busy += cpu() - b0;
  busyT = add(busyT, minus(threads(), bT0));
}
const self = (await get()).toString();
const val = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(self)?.[1] ?? NaN);
const renderMs = (val('tw_metrics_render_seconds_total') / val('tw_metrics_renders_total')) * 1000;
tw.kill('SIGTERM');
await new Promise((r) => tw.on('close', r));
rmSync(dir, { recursive: true, force: true });
const total = per * rounds;
const perScrapeMs = ((busy - quiet * (elapsed / ((total * spacing) / 1000))) / total) * 1000;
quietT = minus(quietT, zero);
busyT = minus(busyT, zero);
console.log(`series: ${lines.length} (${JSON.stringify(byFamily)})`);
console.log(`bytes per scrape: ${text.length} (gzip ${gz})`);
console.log(`CPU: ${busy.toFixed(2)} s over ${total} scrapes in ${elapsed.toFixed(1)} s, ${quiet.toFixed(2)} s over as long without: ${perScrapeMs.toFixed(2)} ms per scrape`);
console.log(`CPU by thread, seconds: without scrapes ${JSON.stringify(quietT)}, with ${JSON.stringify(busyT)}`);
const httpMs = ((busyT.http - quietT.http) / total) * 1000;
console.log(`per scrape: rendering on the tracing thread ${renderMs.toFixed(2)} ms (tw_metrics_render_seconds_total / tw_metrics_renders_total), HTTP thread ${httpMs.toFixed(2)} ms of CPU`);
console.log(JSON.stringify({ renderMs: Number(renderMs.toFixed(2)), httpMs: Number(httpMs.toFixed(2)), quietThreads: quietT, busyThreads: busyT, series: lines.length, byFamily, bytes: text.length, gzipBytes: gz, cpuMsPerScrape: Number(perScrapeMs.toFixed(2)), scrapes }));
