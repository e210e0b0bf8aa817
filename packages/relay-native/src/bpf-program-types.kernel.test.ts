/**
 * bpfProgramTypes() on the real kernel, checked against an independent loader: for each type,
 * bpftool loads test-fixtures/bpf/prog-type.bpf.c built for that type (its section gives the
 * type, the expected attach type and the target's BTF id, as libbpf reads them) and pins it in
 * a private bpffs. The two must agree on whether the kernel takes a program of that type and,
 * where it refuses it, on the errno — so nothing about this kernel is written into the test,
 * and the test fails if the function says anything the kernel does not. Afterwards neither
 * leaves a program loaded, and bpfProgramTypes() leaves no BPF fd open in this process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BPF_PROGRAM_TYPES, bpfProgramTypes, type BpfProgramType } from './index.js';
import { sleep } from './test-kernel.js';
import { bpfSkipReason, buildFixture, progIds } from './test-bpf.js';

const skip = bpfSkipReason();

/** What bpftool made of loading a program: it loaded, or libbpf's "BPF program load failed: <strerror>" (or its last line). */
interface Independent {
  loads: boolean;
  /** strerror's text when the kernel refused the load */
  strerror: string | undefined;
  said: string;
}

function bpftoolLoad(object: string, pin: string): Independent {
  const r = spawnSync('bpftool', ['prog', 'load', object, pin], { encoding: 'utf8' });
  const said = `${r.stdout}${r.stderr}`.trim();
  if (r.status === 0) {
    rmSync(pin); // the pin is the program's last reference: unpinned, it goes
    return { loads: true, strerror: undefined, said };
  }
  return { loads: false, strerror: /BPF program load failed: (.+)$/m.exec(said)?.[1]?.trim(), said };
}

/** The BPF program fds this process holds now. */
function bpfProgFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target === 'anon_inode:bpf-prog') out.push(fd);
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return out;
}

/** Programs either loader may have left: the addon's (twpt_<type>) and the fixture's. */
function leftovers(): number[] {
  return ['twrn_prog_type', ...BPF_PROGRAM_TYPES.map((t) => `twpt_${t}`)].flatMap(progIds);
}

describe.skipIf(skip !== undefined)(`bpfProgramTypes on this kernel${skip ? ` — skipped: ${skip}` : ''}`, () => {
  let bpffs = '';
  const objects = new Map<BpfProgramType, string>();

  beforeAll(() => {
    for (const t of BPF_PROGRAM_TYPES) objects.set(t, buildFixture('prog-type', t));
    bpffs = mkdtempSync(join(tmpdir(), 'tw-bpffs-'));
    const m = spawnSync('mount', ['-t', 'bpf', 'bpf', bpffs], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`cannot mount a private bpffs at ${bpffs}: ${m.stderr}`);
  });

  afterAll(() => {
    if (bpffs === '') return;
    spawnSync('umount', [bpffs]);
    rmdirSync(bpffs);
  });

  it('says, per type, what the kernel says to bpftool loading the same type; closes every fd; leaves nothing loaded', async () => {
    const fdsBefore = bpfProgFds();
    const ours = bpfProgramTypes();
    expect(bpfProgFds()).toEqual(fdsBefore);
    const table: string[] = [];
    for (const t of BPF_PROGRAM_TYPES) {
      const theirs = bpftoolLoad(objects.get(t)!, join(bpffs, t));
      const mine = ours[t];
      table.push(`${t.padEnd(10)} addon: ${mine === true ? 'loads' : mine}   bpftool: ${theirs.loads ? 'loads' : (theirs.strerror ?? theirs.said.split('\n').pop())}`);
      expect(mine === true, `${t}: addon says ${String(mine)}, bpftool says ${theirs.said}`).toBe(theirs.loads);
      if (mine !== true && theirs.strerror !== undefined) {
        // "EPERM: operation not permitted[ — log line]" against libbpf's "Operation not permitted"
        const [errno, text] = mine.split(' — ')[0]!.split(': ');
        expect(errno, t).toMatch(/^E[A-Z0-9]+$/);
        expect(text?.toLowerCase(), t).toBe(theirs.strerror.toLowerCase());
      }
    }
    console.log(`BPF program types here (loaded, never attached):\n  ${table.join('\n  ')}`);
    // what tw's generated objects for syscall and tracepoint forms are: the BPF backend works here (bpfSkipReason), so this type loads
    expect(ours.tracepoint).toBe(true);
    const t0 = Date.now();
    while (leftovers().length > 0 && Date.now() - t0 < 3000) await sleep(50); // freed after an RCU grace period
    expect(leftovers()).toEqual([]);
    expect(readdirSync(bpffs).filter((n) => (BPF_PROGRAM_TYPES as readonly string[]).includes(n))).toEqual([]); // every pin removed
  });

  it('gives the same answer twice (nothing it loaded stays in the way)', () => {
    const a = bpfProgramTypes();
    const b = bpfProgramTypes();
    expect(b).toEqual(a);
  });
});
