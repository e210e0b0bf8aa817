import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pluginShapes, testSpecs } from './test-specs.js';
import { renderForSnapshot as render, renderSuite } from './testing/render-suite.js';

// The plugins' shipped specs are snapshotted in test/src/shipped-probes, by the same suite.

renderSuite(testSpecs, fileURLToPath(new URL('./__snapshots__/', import.meta.url)));

describe('rendering details', () => {
  it('handles __assign_str arity by kernel version', () => {
    const h = render(pluginShapes[0]!).files['tw_unlink_trace.h']!;
    expect(h).toContain('#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)');
    expect(h).toMatch(/__assign_str\(dst\)\n#else\n#define TW_UNLINK_ASSIGN_STR\(dst, src\) __assign_str\(dst, src\)/);
  });

  it('resolves syscalls to the arch wrapper and reads the user pt_regs', () => {
    const c = render(pluginShapes.find((s) => s.name === 'unlinkat')!).files['tw_unlinkat.c']!;
    expect(c).toContain('#define TW_SYSCALL_SYMBOL "__x64_sys_unlinkat"');
    expect(c).toContain('#define TW_SYSCALL_SYMBOL "__arm64_sys_unlinkat"');
    expect(c).toContain('tw_uregs = (const struct pt_regs *)regs_get_kernel_argument(tw_regs, 0);');
    expect(c).toContain('pathname = (const char __user *)TW_LOAD(TW_UREG1(tw_uregs));');
  });

  it('kretprobe: saves the used entry args, reads retval, fills __probe_func/__probe_ret_ip', () => {
    const c = render(testSpecs[0]!).files['tw_ksink.c']!;
    expect(c).toContain('.entry_handler = tw_entry,');
    expect(c).toContain('unsigned long args[2];');
    expect(c).toContain('retval = (struct file *)regs_return_value(tw_regs);');
    expect(c).toContain('tw_v->__probe_ret_ip = get_kretprobe_retaddr(tw_ri);');
    expect(c).not.toContain(' op;'); // unused args are not declared
  });

  it('module params: numeric ones writable at run time, charp read-only', () => {
    const c = render(testSpecs[0]!).files['tw_ksink.c']!;
    expect(c).toContain('module_param_named(min_dfd, tw_param_min_dfd, int, 0644);');
    expect(c).toContain('static char *tw_param_skip_comm = "nobody";');
    expect(c).toContain('module_param_named(skip_comm, tw_param_skip_comm, charp, 0444);');
    expect(c).toContain('static unsigned long tw_param_big = 18446744073709551615UL;');
    expect(c).toContain('static long tw_param_wide = -9007199254740991L;');
  });

  it('computes the fields a filter reads before it, and the rest after', () => {
    const c = render(pluginShapes.find((s) => s.name === 'open_write')!).files['tw_open_write.c']!;
    const filterAt = c.indexOf('/* filter:');
    expect(c.indexOf('/* ino = ino(path) */')).toBeLessThan(filterAt);
    expect(c.indexOf('/* mode = file->f_mode */')).toBeLessThan(filterAt);
    expect(c.indexOf('/* path = path(path)')).toBeGreaterThan(filterAt);
  });

  it('a kprobe_events file only when kprobe events can express the spec', () => {
    const r = render(pluginShapes.find((s) => s.name === 'open_write')!);
    expect(r.files['tw_open_write.kprobe_events']).toBeUndefined();
    expect('unsupported' in r.kprobeEvent && r.kprobeEvent.unsupported).toContain("field 'path'");
  });
});
