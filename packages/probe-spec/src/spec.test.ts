import { isTwError, ProbeSpecError } from '@tw/core';
import { describe, expect, it } from 'vitest';
import { parseFilter, parseSource, parseValue } from './expr.js';
import { specHash } from './hash.js';
import { analyzeProbeSpec, checkProbeParams, defineProbe, validateProbeSpec, type ProbeSpec } from './spec.js';

const base: ProbeSpec = {
  name: 'unlink_t',
  attach: { kprobe: 'do_unlinkat' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'name', type: 'struct filename *' },
  ],
  fields: [
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'pathname', type: { string: 64 }, from: 'kernel_string(name->name)' },
  ],
};

/** the spec with one part replaced */
function variant(patch: Record<string, unknown>): unknown {
  return { ...base, ...patch };
}

function specError(spec: unknown): ProbeSpecError {
  try {
    validateProbeSpec(spec);
  } catch (e) {
    expect(isTwError(e)).toBe(true);
    expect((e as ProbeSpecError).code).toBe('PROBE_SPEC');
    return e as ProbeSpecError;
  }
  throw new Error(`spec was accepted: ${JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
}

// The plugins' probe specs are validated in test/src/shipped-probes, kprobe-gen's test specs in
// kprobe-gen (test-specs.test.ts).
describe('specs', () => {
  it('validate', () => {
    expect(validateProbeSpec(base)).toStrictEqual(base);
  });

  it('defineProbe returns the validated spec, typed: a frozen copy of it, equal to it', () => {
    const s = defineProbe(base);
    expect(s).toStrictEqual(base);
    expect(Object.isFrozen(s) && Object.isFrozen(s.attach) && Object.isFrozen(s.fields)).toBe(true);
    // validating the copy again gives the copy itself
    expect(validateProbeSpec(s)).toBe(s);
  });

  it('validates a plain copy and hands back only that: a getter cannot answer differently later', () => {
    // a getter that passes the name check once, then names a path outside any output directory
    let reads = 0;
    const tricky = { ...base };
    Object.defineProperty(tricky, 'name', { enumerable: true, get: () => (reads++ === 0 ? 'unlink_t' : '../../escape') });
    expect(() => validateProbeSpec(tricky)).toThrow(/spec: name: is an accessor \(get\/set\); a spec must be plain data/);
    expect(reads).toBe(0);
    // a plain spec changed after validation: the copy tw uses keeps what was validated
    const plain = JSON.parse(JSON.stringify(base)) as typeof base & { name: string };
    const used = validateProbeSpec(plain);
    plain.name = '../../escape';
    expect(used.name).toBe('unlink_t');
    expect(() => ((used as { name: string }).name = 'x')).toThrow(TypeError);
  });

  it('rejects what is not plain data: functions, class instances, cycles', () => {
    expect(() => validateProbeSpec({ ...base, description: () => 'x' })).toThrow(/description: must be data, not a function/);
    expect(() => validateProbeSpec({ ...base, attach: new (class A { kprobe = 'do_unlinkat'; })() })).toThrow(/attach: must be a plain object/);
    const loop: Record<string, unknown> = { ...base };
    loop['attach'] = { kprobe: 'do_unlinkat', self: loop };
    expect(() => validateProbeSpec(loop)).toThrow(/attach\.self: refers to itself/);
  });

  it('hashes canonically: key order does not matter, content does', () => {
    const reordered = { fields: base.fields, args: base.args, attach: base.attach, name: base.name };
    expect(specHash(reordered)).toBe(specHash(base));
    expect(specHash(base)).toMatch(/^[0-9a-f]{16}$/);
    expect(specHash({ ...base, name: 'other' })).not.toBe(specHash(base));
  });

  it('lays the model out with aliases and filter fields', () => {
    const m = analyzeProbeSpec({
      ...base,
      params: [{ name: 'min_dfd', type: 'int', default: 0 }],
      fields: [...base.fields, { name: 'pid', type: 'pid', from: 'pid' }],
      filter: 'dfd >= min_dfd && pid != 1 && name->refcnt.counter > 1',
    });
    expect(m.kind).toBe('kprobe');
    expect(m.fields.find((f) => f.name === 'pid')!.alias).toBe(true);
    expect(m.fields.find((f) => f.name === 'dfd')!.alias).toBe(false);
    expect([...m.filterFields].sort()).toEqual(['dfd', 'pid']);
    expect(m.params.map((p) => p.name)).toEqual(['min_dfd']);
  });
});

describe('names are validated, never sanitised', () => {
  const bad: Array<[string, string]> = [
    ['a;b', 'must match'],
    ['x) { evil(); } //', 'must match'],
    ['Unlink', 'must match'],
    ['_x', 'must match'],
    ['1abc', 'must match'],
    ['a'.repeat(33), 'must match'],
    ['int', 'reserved word'],
    ['struct', 'reserved word'],
    ['current', 'reserved word'],
    ['printk', 'reserved word'],
    ['tw_x', 'tw_ prefix'],
    ['common_pid', 'common_ prefix'],
    ['unlink\n', 'must match'],
    ['ünlink', 'must match'],
  ];
  it.each(bad)('spec name %j', (name, rule) => {
    const e = specError(variant({ name }));
    expect(e.field).toBe('name');
    expect(e.rule).toContain(rule);
  });

  it('spec names that collide with generated symbols', () => {
    for (const name of ['puts', 'bprintk', 'dump_stack', 'clock', 'seq_printf', 'data_view']) {
      expect(specError(variant({ name })).rule).toContain('reserved');
    }
    expect(specError(variant({ name: 'a'.repeat(25) })).rule).toContain('too long');
  });

  it('arg, field and param names', () => {
    expect(specError(variant({ args: [{ name: 'a;b', type: 'int' }] })).field).toBe('args[0].name');
    expect(specError(variant({ args: [{ name: 'pid', type: 'int' }] })).rule).toContain('built-in');
    expect(specError(variant({ fields: [{ name: 'while', type: 'u32', from: 'dfd' }] })).field).toBe('fields[0].name');
    expect(specError(variant({ params: [{ name: 'x y', type: 'int', default: 0 }] })).field).toBe('params[0].name');
    const dup = specError(variant({ fields: [...base.fields, { name: 'dfd', type: 'u32', from: 'dfd' }] }));
    expect(dup.field).toBe('fields[2].name');
    expect(dup.rule).toContain('already used');
    expect(specError(variant({ params: [{ name: 'dfd', type: 'int', default: 0 }] })).rule).toContain('already used');
  });

  it('unknown properties are rejected (typos do not pass silently)', () => {
    expect(specError(variant({ feilds: [] })).field).toBe('feilds');
    expect(specError(variant({ fields: [{ name: 'x', type: 'u32', from: 'dfd', form: 'x' }] })).field).toBe('fields[0].form');
  });
});

describe('types', () => {
  it('arg types come from a whitelist', () => {
    for (const type of ['int; evil()', 'struct x { int a; }', 'char[16]', 'struct', 'struct int *', 'foo_t', 'int ***', 'struct path', 'void']) {
      expect(specError(variant({ args: [{ name: 'a', type }] })).field).toBe('args[0].type');
    }
  });

  it('field types and capacities', () => {
    expect(specError(variant({ fields: [{ name: 'x', type: 'u128', from: 'dfd' }] })).field).toBe('fields[0].type');
    expect(specError(variant({ fields: [{ name: 'x', type: { string: 1 }, from: 'comm' }] })).field).toBe('fields[0].type.string');
    expect(specError(variant({ fields: [{ name: 'x', type: { string: 5000 }, from: 'comm' }] })).field).toBe('fields[0].type.string');
    expect(specError(variant({ fields: [{ name: 'x', type: { bytes: 65 }, from: 'name' }] })).field).toBe('fields[0].type.bytes');
    const big = Array.from({ length: 4 }, (_, i) => ({ name: `s${i}`, type: { string: 1000 }, from: 'comm' }));
    expect(specError(variant({ fields: big })).rule).toContain('record can reach');
  });

  it('sources must fit the field type', () => {
    expect(specError(variant({ fields: [{ name: 'x', type: 'u32', from: 'comm' }] })).rule).toContain('gives a string');
    expect(specError(variant({ fields: [{ name: 'x', type: { string: 16 }, from: 'dfd' }] })).rule).toContain('string field needs');
    expect(specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'pid' }] })).rule).toContain('common_pid');
    expect(specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'ino(dfd)' }] })).rule).toContain('struct path');
    expect(specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'ino(name->name)' }] })).rule).toContain('argument name');
    expect(specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'dfd->x' }] })).rule).toContain('not a pointer');
    expect(specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'name.x' }] })).rule).toContain("use '->'");
    expect(specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'retval' }] })).rule).toContain('kretprobe');
    expect(specError(variant({ fields: [{ name: 'x', type: { string: 8 }, from: 'user_string(name)' }] })).rule).toContain('kernel_string');
    expect(specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'nosuch' }] })).rule).toContain("unknown identifier 'nosuch'");
  });

  it('params: types and defaults', () => {
    expect(specError(variant({ params: [{ name: 'p', type: 'float', default: 0 }] })).field).toBe('params[0].type');
    expect(specError(variant({ params: [{ name: 'p', type: 'uint', default: -1 }] })).field).toBe('params[0].default');
    expect(specError(variant({ params: [{ name: 'p', type: 'int', default: 2 ** 31 }] })).field).toBe('params[0].default');
    expect(specError(variant({ params: [{ name: 'p', type: 'int', default: 1.5 }] })).field).toBe('params[0].default');
    expect(specError(variant({ params: [{ name: 'p', type: 'bool', default: 1 }] })).field).toBe('params[0].default');
    expect(specError(variant({ params: [{ name: 'p', type: 'charp', default: 'a"); evil(); ("' }] })).field).toBe('params[0].default');
    expect(specError(variant({ params: [{ name: 'p', type: 'charp', default: 'two words' }] })).field).toBe('params[0].default');
    expect(specError(variant({ params: [{ name: 'p', type: 'int', default: 0, description: 'x"); evil(); //' }] })).field).toBe('params[0].description');
  });

  it('free text cannot close comments or strings', () => {
    for (const description of ['ends */ here', 'a "quote"', 'back\\slash', 'new\nline', '%s format', 'trigraph ??=']) {
      expect(specError(variant({ description })).field).toBe('description');
    }
  });

  it('attach points', () => {
    expect(specError(variant({ attach: { kprobe: 'do_unlinkat; rm -rf /' } })).field).toBe('attach.kprobe');
    expect(specError(variant({ attach: { kprobe: 'a', syscall: 'b' } })).field).toBe('attach');
    expect(specError(variant({ attach: { syscall: '__x64_sys_unlink' } })).field).toBe('attach.syscall');
    expect(specError(variant({ attach: { kretprobe: 'f', returns: 'struct file' } })).field).toBe('attach.returns');
    expect(validateProbeSpec(variant({ attach: { kprobe: 'foo.isra.0' } }))).toBeTruthy();
  });
});

describe('syscall exits, tracepoints, and the culprit sources', () => {
  const exit = {
    name: 'open_exit',
    attach: { syscall: 'openat', returns: 'long' },
    args: [
      { name: 'dfd', type: 'int' },
      { name: 'filename', type: 'const char __user *' },
    ],
    fields: [
      { name: 'ret', type: 's64', from: 'retval' },
      { name: 'name', type: { string: 64 }, from: 'user_string(filename)' },
      { name: 'ino', type: 'u64', from: 'fd_ino(retval)' },
      { name: 'dev', type: 'u32', from: 'fd_dev(retval)' },
      { name: 'path', type: { string: 128 }, from: 'fd_path(retval)' },
      { name: 'dir', type: { string: 128 }, from: 'fd_path(dfd)' },
      { name: 'cwd', type: { string: 128 }, from: 'cwd' },
      { name: 'ppid', type: 'u32', from: 'ppid' },
    ],
    filter: 'retval >= 0',
  };

  it('a syscall with returns is its exit: retval, the entry args, a 16-byte probe header', () => {
    const m = analyzeProbeSpec(exit);
    expect(m.kind).toBe('syscall_exit');
    expect(m.target).toBe('openat');
    expect(m.returns!.text).toBe('long');
    expect(analyzeProbeSpec({ ...exit, attach: { syscall: 'openat' }, fields: exit.fields.slice(1, 2), filter: undefined }).kind).toBe('syscall');
  });

  it('retval only where there is one', () => {
    const entry = { ...exit, attach: { syscall: 'openat' } };
    expect(specError(entry).rule).toMatch(/'retval' .*only available in a kretprobe or a syscall exit/);
    expect(specError({ ...entry, fields: [{ name: 'ino', type: 'u64', from: 'fd_ino(retval)' }], filter: undefined }).rule).toMatch(/only available in a kretprobe or a syscall exit/);
    expect(specError({ ...exit, attach: { syscall: 'openat', returns: 'struct file' } }).field).toBe('attach.returns');
  });

  it('fd_*(x) take an integer argument or retval; cwd is a string, ppid a number', () => {
    const one = (f: Record<string, unknown>) => ({ ...exit, fields: [f], filter: undefined });
    expect(specError(one({ name: 'x', type: 'u64', from: 'fd_ino(filename)' })).rule).toMatch(/needs an integer file descriptor; 'filename' is const char __user \*/);
    expect(specError(one({ name: 'x', type: 'u64', from: 'fd_ino(dfd + 1)' })).rule).toMatch(/takes the name of an argument/);
    expect(specError(one({ name: 'x', type: 'u64', from: 'fd_path(dfd)' })).rule).toMatch(/fd_path\(…\) gives a string/);
    expect(specError(one({ name: 'x', type: 'bool', from: 'fd_dev(dfd)' })).rule).toMatch(/not a boolean/);
    expect(specError(one({ name: 'x', type: 'u32', from: 'cwd' })).rule).toMatch(/'cwd' gives a string/);
    expect(specError(one({ name: 'x', type: { string: 16 }, from: 'ppid' })).rule).toMatch(/'ppid' gives a number/);
    expect(specError(one({ name: 'x', type: 'u64', from: 'fd_ino(nope)' })).rule).toMatch(/unknown argument 'nope'/);
  });

  it('ppid and cwd are built-ins: no arg or param may take their names', () => {
    expect(specError(variant({ args: [{ name: 'cwd', type: 'int' }] })).rule).toMatch(/built-in field source/);
    expect(specError(variant({ params: [{ name: 'ppid', type: 'int', default: 0 }] })).rule).toMatch(/built-in field source/);
  });

  const tp = {
    name: 'sig',
    attach: { tracepoint: 'signal:signal_generate' },
    args: [
      { name: 'sig', type: 'int' },
      { name: 'target', type: 'pid_t', field: 'pid' },
    ],
    fields: [
      { name: 'sig', type: 's32', from: 'sig' },
      { name: 'target', type: 'pid', from: 'target' },
    ],
  };

  it('a tracepoint: system:event, its fields as args (field renames one), an optional event class', () => {
    const m = analyzeProbeSpec(tp);
    expect(m.kind).toBe('tracepoint');
    expect(m.target).toBe('signal:signal_generate');
    expect(m.tracepointStruct).toBe('signal_generate');
    expect(m.args.map((a) => a.field)).toEqual(['sig', 'pid']);
    expect(analyzeProbeSpec({ ...tp, attach: { tracepoint: 'sched:sched_waking', class: 'sched_wakeup_template' } }).tracepointStruct).toBe('sched_wakeup_template');
  });

  it('tracepoint names, classes and field names are checked', () => {
    expect(specError({ ...tp, attach: { tracepoint: 'signal_generate' } }).field).toBe('attach.tracepoint');
    expect(specError({ ...tp, attach: { tracepoint: 'signal:x; rm' } }).field).toBe('attach.tracepoint');
    expect(specError({ ...tp, attach: { tracepoint: 'syscalls:sys_enter_openat' } }).rule).toMatch(/use \{ syscall: '<name>' \}/);
    expect(specError({ ...tp, attach: { tracepoint: 'sched:sched_waking', class: 'x y' } }).field).toBe('attach.class');
    expect(specError({ ...tp, attach: { tracepoint: 'sched:sched_waking', kprobe: 'f' } }).field).toBe('attach');
    expect(specError({ ...tp, args: [{ name: 'sig', type: 'int', field: 'a->b' }] }).field).toBe('args[0].field');
    expect(specError({ ...tp, args: [{ name: 'sig', type: 'int', field: 'int' }] }).field).toBe('args[0].field');
    // `field` is for tracepoints only
    expect(specError(variant({ args: [{ name: 'dfd', type: 'int', field: 'x' }] })).field).toBe('args[0].field');
    expect(specError({ ...tp, fields: [{ name: 'r', type: 's64', from: 'retval' }] }).rule).toMatch(/only available in a kretprobe or a syscall exit/);
  });
});

describe('expressions: a strict subset of C', () => {
  const injections: Array<[string, string]> = [
    ['evil()', 'function calls are not allowed'],
    ['name->name; evil()', "';' is not allowed"],
    ['dfd) { evil(); } //', 'braces'],
    ['dfd) + evil(1', 'unexpected'],
    ['"str"', 'quotes'],
    ["'c'", 'quotes'],
    ['{ dfd }', 'braces'],
    ['#include <x>', 'preprocessor'],
    ['dfd /* c */', 'comments'],
    ['dfd // c', 'comments'],
    ['dfd = 1', 'assignment'],
    ['dfd += 1', 'assignment'],
    ['dfd++', 'side effects'],
    ['dfd, 1', "','"],
    ['name[0]', 'subscripts'],
    ['*name', "'*'"],
    ['dfd * 2', "'*'"],
    ['dfd ? 1 : 2', 'conditional'],
    ['dfd << 2', "'<<'"],
    ['sizeof(dfd)', 'keyword'],
    ['__builtin_trap', 'keyword'],
    ['asm', 'keyword'],
    ['dfd\\', 'backslash'],
    ['dfd\u0000', 'non-printable'],
    ['dfd == 1', "'=='"],
    ['(int', 'ends unexpectedly'],
    ['(struct x)dfd', 'not a value'],
    ['(evil_t)dfd', "'evil_t' is not an allowed type"],
    ['0777', 'octal'],
    ['12abc', 'malformed number'],
    ['0x1ffffffffffffffff', '64 bits'],
    ['name->if', 'reserved word'],
    ['x'.repeat(301), 'longer than'],
  ];
  it.each(injections)('value %j is rejected', (src, rule) => {
    expect(() => parseValue(src)).toThrow(rule);
  });

  it('the same text in a spec names the field and the rule', () => {
    const e = specError(variant({ fields: [{ name: 'x', type: 'u64', from: 'name->name; evil()' }] }));
    expect(e.field).toBe('fields[0].from');
    expect(e.rule).toContain("';' is not allowed");
    const f = specError(variant({ filter: 'dfd == 1; evil()' }));
    expect(f.field).toBe('filter');
  });

  it('built-ins must be the whole source', () => {
    expect(() => parseSource('ino(a) + ino(b)')).toThrow('whole source');
    expect(() => parseSource('1 + ino(a)')).toThrow('function calls');
    expect(() => parseSource('kernel_string()')).toThrow('needs an argument');
    expect(parseSource('comm')).toEqual({ k: 'builtin', name: 'comm' });
    expect(parseSource(' path(p) ').k).toBe('call');
  });

  it('accepts what the grammar allows', () => {
    expect(parseValue('((struct pt_regs *)x)->di & 0xff | 1').k).toBe('binary');
    expect(parseValue('&file->f_path.dentry').k).toBe('unary');
    expect(parseValue('-(a + 1)').k).toBe('unary');
    expect(parseFilter('!(a == 1) && b != 2 || c <= 3 && d >= 4 && e < 5 && f > 6').k).toBe('binary');
    expect(() => parseValue('!a')).toThrow('only allowed in filters');
    expect(() => parseValue('&a')).toThrow('address of a member');
  });

  it('filters: identifiers, strings only against charp params', () => {
    expect(specError(variant({ filter: 'nosuch == 1' })).rule).toContain("unknown identifier 'nosuch'");
    expect(specError(variant({ filter: 'pathname == 1' })).rule).toContain('is a string');
    expect(validateProbeSpec(variant({ params: [{ name: 'only', type: 'charp', default: 'x' }], filter: 'pathname == only' }))).toBeTruthy();
    expect(specError(variant({ params: [{ name: 'only', type: 'charp', default: 'x' }], filter: 'only' })).rule).toContain('is a string');
    expect(specError(variant({ params: [{ name: 'p', type: 'int', default: 0 }], filter: 'p->x == 1' })).rule).toContain('not a struct pointer');
    expect(validateProbeSpec(variant({ filter: 'name->refcnt.counter > 1 && dfd != -100' }))).toBeTruthy();
  });
});

describe('values given to params when a probe is brought up', () => {
  const spec = defineProbe({
    ...base,
    name: 'with_params',
    params: [
      { name: 'watch_ino', type: 'ulong', default: 0 },
      { name: 'on', type: 'bool', default: false },
      { name: 'who', type: 'charp', default: 'x' },
    ],
  });
  const problem = (params: Record<string, unknown>): string => {
    try {
      checkProbeParams(spec, params);
    } catch (e) {
      expect(isTwError(e) && e.code).toBe('PROBE_PARAM');
      return (e as Error).message;
    }
    return 'ok';
  };

  it('takes the JS types of the defaults, in range, and returns them as given', () => {
    expect(checkProbeParams(spec, { watch_ino: 2n ** 64n - 1n, on: true, who: 'rm' })).toEqual({ watch_ino: 2n ** 64n - 1n, on: true, who: 'rm' });
    expect(checkProbeParams(spec, { watch_ino: 12 })).toEqual({ watch_ino: 12 });
    expect(checkProbeParams(spec, {})).toEqual({});
  });

  it('names the probe and the parameter that is unknown or does not fit', () => {
    expect(problem({ watch_inode: 1 })).toBe("probe 'with_params' has no parameter 'watch_inode' (it has: watch_ino (ulong), on (bool), who (charp))");
    expect(problem({ watch_ino: 2n ** 64n })).toBe("probe 'with_params', parameter watch_ino (ulong): 18446744073709551616 is out of range for ulong (0..18446744073709551615)");
    expect(problem({ on: 1 })).toBe("probe 'with_params', parameter on (bool): must be true or false, got number");
    expect(problem({ who: 5 })).toBe("probe 'with_params', parameter who (charp): must be a string, got number");
    expect(() => checkProbeParams(base, { x: 1 })).toThrow("probe 'unlink_t' has no parameter 'x' (it has none)");
  });
});
