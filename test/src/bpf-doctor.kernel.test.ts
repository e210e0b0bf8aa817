// tw doctor on the real kernel: the BPF program types this kernel loads, as a line of its report
// and under the key bpfProgramTypes of its --json output, the same as @tw/relay-native's
// bpfProgramTypes() says here (which relay-native's bpf-program-types.kernel.test.ts checks
// against bpftool); its other keys as before; and no program of its check left loaded.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BPF_PROGRAM_TYPES, bpfKprobeAttach, bpfProgramTypes } from '@tw/relay-native';
import { bpfSkipReason } from './support/bpf.js';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { twCliPath } from './support/tw.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-doctor.kernel] skipped: ${reason}`);

/** ids of programs doctor's check loads (twpt_<type>), loaded now */
function checkPrograms(): number[] {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
  return list.filter((p) => p.name?.startsWith('twpt_') === true).map((p) => p.id);
}

interface DoctorJson {
  kernel: string;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
  watches: Array<{ watch: string; verdict: string }>;
  bpfProgramTypes: Record<string, true | string>;
  bpfKprobeAttach: true | string;
}

describe.skipIf(reason !== undefined)('tw doctor: BPF program types', () => {
  it('--json carries each type under bpfProgramTypes, as the kernel answers here; the text line says the same', async () => {
    const here = bpfProgramTypes();
    const j = await run(process.execPath, [twCliPath(), 'doctor', '--json'], { check: false });
    expect(j.code, j.stderr).toBe(0);
    const d = JSON.parse(j.stdout) as DoctorJson;
    expect(Object.keys(d)).toEqual(['kernel', 'checks', 'watches', 'bpfProgramTypes', 'bpfKprobeAttach']);
    expect(Object.keys(d.bpfProgramTypes)).toEqual([...BPF_PROGRAM_TYPES]);
    // the kernel's verdict per type (a reason may differ only in a log line, which doctor does not print)
    for (const t of BPF_PROGRAM_TYPES) {
      const a = d.bpfProgramTypes[t];
      const b = here[t];
      expect(a === true, t).toBe(b === true);
      if (a !== true && b !== true) expect(a!.split(' — ')[0], t).toBe(b.split(' — ')[0]);
    }
    expect(d.bpfKprobeAttach).toEqual(bpfKprobeAttach());
    const check = d.checks.find((c) => c.name === 'BPF program types');
    expect(check?.ok).toBe(BPF_PROGRAM_TYPES.some((t) => here[t] === true));
    // the checks before it are still there, in their order
    expect(d.checks.map((c) => c.name).slice(-5)).toEqual(['BTF', 'BPF loader', 'BPF program types', 'probe backends', 'BPF objects']);

    const text = await run(process.execPath, [twCliPath(), 'doctor'], { check: false });
    expect(text.code, text.stderr).toBe(0);
    const line = text.stdout.split('\n').find((l) => / BPF program types /.test(l));
    expect(line, text.stdout).toBeDefined();
    for (const t of BPF_PROGRAM_TYPES) {
      const v = here[t];
      const errno = v === true ? undefined : /^(E[A-Z0-9]+):/.exec(v)?.[1];
      expect(line).toContain(v === true ? `${t} yes` : `${t} no (${errno ?? v})`);
    }
    console.log(`tw doctor: ${line!.trim()}`);

    const t0 = Date.now();
    while (checkPrograms().length > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
    expect(checkPrograms(), 'programs of the check after doctor').toEqual([]);
  });
});
