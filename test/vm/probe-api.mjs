#!/usr/bin/env node
// Guest-side helper of test/src/vm/probes.vm.test.ts: drives @tw/kprobe-gen's API directly (one
// Node start instead of dozens of `tw` invocations, which cost ~3-9 s each under TCG).
// Prints one line per step, `ok <step>[ detail]` or `FAIL <step>: <why>`, on stdout.
//
//   node test/vm/probe-api.mjs [layout-size] [cycles <first> <last> <dir>]   (in that order)
//
//   layout-size  a hand-written kprobe event tw:unlink whose dfd is 8 bytes instead of 4:
//                checkLayout must throw a LayoutMismatchError naming dfd with the expected and
//                the actual offset/size; then removeKprobeEvent leaves no dynamic event.
//   cycles       module load/unload cycles <first>..<last> of tw_unlink: buildModule (which must
//                be a cache hit: the module was built on the host), then per cycle loadModule,
//                /proc/modules, isLoaded(), the event's format against the spec (checkLayout),
//                the event fires (enabled in a private tracefs instance, unlinking
//                <dir>/cycle-<n>), unloadModule, and nothing left behind.
import { existsSync, mkdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModule, checkLayout, isLoaded, loadModule, moduleLoaded, removeKprobeEvent, unloadModule } from '@tw/kprobe-gen';
import { unlink } from '@tw/plugin-fswatch/probes';

const T = '/sys/kernel/tracing';
const argv = process.argv.slice(2);

const say = (line) => process.stdout.write(`${line}\n`);
const oneLine = (s) => String(s).replace(/\s*\n\s*/g, ' | ').slice(0, 400);
const dynamicTw = () => readFileSync(join(T, 'dynamic_events'), 'utf8').split('\n').filter((l) => /\btw\//.test(l));

async function cycles(first, last, dir) {
  const step = 'd.api_cycles';
  const inst = join(T, 'instances', 'vmtest-api');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(inst)) mkdirSync(inst);
  const t0 = Date.now();
  let n = first;
  try {
    const b = await buildModule(unlink);
    if (!b.cached) throw new Error(`buildModule ran make (not a cache hit): ${b.cacheEntry}`);
    for (; n <= last; n++) {
      const name = await loadModule(b.ko, {}, { spec: unlink });
      if (name !== 'tw_unlink') throw new Error(`loadModule returned ${name}`);
      if (!(await moduleLoaded('tw_unlink'))) throw new Error('tw_unlink not in /proc/modules after loadModule');
      const state = await isLoaded(unlink);
      if (state !== 'module') throw new Error(`isLoaded() = ${state} after loadModule`);
      checkLayout(unlink, readFileSync(join(T, 'events/tw/unlink/format'), 'utf8'));
      // the event fires: enable it in our own instance, unlink a file, read that instance's trace
      writeFileSync(join(inst, 'events/tw/unlink/enable'), '1');
      const victim = join(dir, `cycle-${n}`);
      writeFileSync(victim, '');
      unlinkSync(victim);
      const trace = readFileSync(join(inst, 'trace'), 'utf8');
      if (!trace.split('\n').some((l) => l.includes(' unlink: ') && l.includes(`pathname=${victim} `) && l.endsWith('comm=node'))) {
        throw new Error(`no tw:unlink event for ${victim} in the instance's trace:\n${trace.split('\n').filter((l) => !l.startsWith('#')).slice(-5).join('\n')}`);
      }
      // unloadModule disables the event in every instance itself
      if (!(await unloadModule('tw_unlink'))) throw new Error('unloadModule said it was not loaded');
      if (await moduleLoaded('tw_unlink')) throw new Error('tw_unlink still in /proc/modules after unloadModule');
      if ((await isLoaded(unlink)) !== false) throw new Error('isLoaded() is not false after unloadModule');
      if (existsSync(join(T, 'events/tw'))) throw new Error('events/tw still exists after unloadModule');
      if (existsSync(join(inst, 'events/tw'))) throw new Error('the instance still has events/tw after unloadModule');
      const left = dynamicTw();
      if (left.length > 0) throw new Error(`dynamic_events still has: ${left.join('; ')}`);
    }
    say(`ok ${step} cycles ${first}..${last} in ${Date.now() - t0} ms`);
  } catch (e) {
    say(`FAIL ${step}: cycle ${n}: ${oneLine(e instanceof Error ? e.message : e)}`);
    await unloadModule('tw_unlink').catch(() => undefined);
  } finally {
    try {
      rmdirSync(inst);
    } catch (e) {
      say(`FAIL d.api_instance_removed: ${oneLine(e.message)}`);
    }
  }
}

async function layoutSize() {
  const step = 'e.layout_size';
  // the probe's own definition has dfd=%di:s32: the same name, but dfd 8 bytes wide
  const line = 'p:tw/unlink do_unlinkat dfd=%di:s64 pathname=+0(+0(%si)):string comm=$comm:string';
  try {
    appendFileSync(join(T, 'kprobe_events'), `${line}\n`);
  } catch (e) {
    say(`FAIL ${step}: cannot add '${line}': ${oneLine(e.message)}`);
    return;
  }
  try {
    const format = readFileSync(join(T, 'events/tw/unlink/format'), 'utf8');
    let err;
    try {
      checkLayout(unlink, format);
    } catch (e) {
      err = e;
    }
    if (err === undefined) throw new Error('checkLayout accepted a format whose dfd is 8 bytes');
    const want = { name: 'LayoutMismatchError', code: 'LAYOUT_MISMATCH', field: 'dfd', expected: '16/4', actual: '16/8' };
    const got = {
      name: err.name,
      code: err.code,
      field: err.field,
      expected: err.expected ? `${err.expected.offset}/${err.expected.size}` : String(err.expected),
      actual: err.actual ? `${err.actual.offset}/${err.actual.size}` : String(err.actual),
    };
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)} (${oneLine(err.message)})`);
    if (!/field 'dfd': expected offset 16 size 4 .*has offset 16 size 8/.test(err.message)) throw new Error(`message does not name the field and both placements: ${oneLine(err.message)}`);
    say(`ok ${step} ${oneLine(err.message)}`);
  } catch (e) {
    say(`FAIL ${step}: ${oneLine(e.message)}`);
  } finally {
    try {
      if (!(await removeKprobeEvent(T, unlink))) throw new Error('removeKprobeEvent said it was not defined');
      const left = dynamicTw();
      if (left.length > 0 || existsSync(join(T, 'events/tw'))) throw new Error(`left behind: ${left.join('; ') || 'events/tw'}`);
      say('ok e.layout_size_removed');
    } catch (e) {
      say(`FAIL e.layout_size_removed: ${oneLine(e.message)}`);
    }
  }
}

if (argv[0] === 'layout-size') {
  argv.shift();
  await layoutSize();
}
if (argv[0] === 'cycles') {
  await cycles(Number(argv[1]), Number(argv[2]), argv[3] ?? '/tmp/tw-vm-probes');
  argv.splice(0, 4);
}
if (argv.length > 0) {
  say(`FAIL probe-api: unexpected arguments: ${argv.join(' ')}`);
  process.exitCode = 2;
}
