#!/usr/bin/env node
// What a Prometheus scrape of tw serve costs, for docs/fleet.md: starts `tw serve` with a config
// (default: the fleet example — syscalls and who-killed of pid 1), lets it trace the machine's
// own activity for --warmup seconds (so the per-syscall series exist), then
//   series per host   the sample lines of one /metrics answer (tw's, the watches', the process's)
//   bytes per scrape  the size of that answer (uncompressed, and gzip as Prometheus asks for it)
//   CPU per scrape    tw's CPU time (utime + stime of the whole process, from /proc) over --scrapes
//                     scrapes one after another, less its CPU time over as long a quiet stretch
//                     before them (what tracing itself costs meanwhile), divided by the scrapes;
//                     scrapes are spaced 1.1 s apart so each one renders (no reuse of the last)
//   node bench/serve-scrape.mjs [--config FILE] [--scrapes 100] [--warmup 20]
// As root, with tracefs. The last line is a JSON summary.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const quiet0 = cpu();
await sleep(scrapes * spacing);
const quiet = cpu() - quiet0;
const busy0 = cpu();
const t0 = Date.now();
for (let i = 0; i < scrapes; i++) {
  const s = Date.now();
  await get();
  await sleep(Math.max(0, spacing - (Date.now() - s)));
}
const busy = cpu() - busy0;
const elapsed = (Date.now() - t0) / 1000;
tw.kill('SIGTERM');
await new Promise((r) => tw.on('close', r));
rmSync(dir, { recursive: true, force: true });
const perScrapeMs = ((busy - quiet * (elapsed / ((scrapes * spacing) / 1000))) / scrapes) * 1000;
console.log(`series: ${lines.length} (${JSON.stringify(byFamily)})`);
console.log(`bytes per scrape: ${text.length} (gzip ${gz})`);
console.log(`CPU: ${busy.toFixed(2)} s over ${scrapes} scrapes in ${elapsed.toFixed(1)} s, ${quiet.toFixed(2)} s over as long without: ${perScrapeMs.toFixed(2)} ms per scrape`);
console.log(JSON.stringify({ series: lines.length, byFamily, bytes: text.length, gzipBytes: gz, cpuMsPerScrape: Number(perScrapeMs.toFixed(2)), scrapes }));
