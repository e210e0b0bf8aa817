// tw serve's config file: what it takes, and every problem said as FILE:LINE: key: problem, the
// line being the one the key (or the bad value) is on.
import { describe, expect, it } from 'vitest';
import { parseListen, parseServeConfig } from './config.js';

function problem(text: string): string {
  try {
    parseServeConfig(text, 'serve.yaml');
  } catch (e) {
    return (e as Error).message;
  }
  return 'no problem';
}

describe('tw serve config', () => {
  it('takes the issue\'s form, with the defaults for the rest', () => {
    const c = parseServeConfig('listen: 127.0.0.1:9464\nalertmanager:\n  - http://127.0.0.1:9093\nlabels: { site: lab }\nwatches:\n  - watch: syscalls\n  - watch: who-killed\n    args: ["1234"]\n    keep-going: true\n', 'serve.yaml');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(c.labels).toEqual({ site: 'lab' });
    expect(c.watches).toEqual([
      { watch: 'syscalls', id: 'syscalls', args: [], keepGoing: false, line: 6 },
      { watch: 'who-killed', id: 'who-killed', args: ['1234'], keepGoing: true, line: 7 },
    ]);
    expect(c.bufferKb).toBe(4096);
    expect(c.maxSeries).toBe(500);
  });

  it('listens on loopback unless all interfaces are written', () => {
    expect(parseServeConfig('watches: [{watch: syscalls}]\n', 'f').listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseServeConfig('listen: 0.0.0.0:9100\nwatches: [{watch: syscalls}]\n', 'f').listen).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(parseListen('[::]:9464')).toEqual({ host: '::', port: 9464 });
    expect(parseListen('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListen(':9464')).toMatch(/not host:port/);
    expect(parseListen('127.0.0.1:70000')).toMatch(/port 70000/);
  });

  it('names the line and key of unknown keys, at the top and in a watch', () => {
    expect(problem('watches:\n  - watch: syscalls\nbuffer_kb: 10\n')).toMatch(/^serve\.yaml:3: buffer_kb: unknown key \(known: listen, /);
    expect(problem('watches:\n  - watch: syscalls\n  - watch: who-killed\n    arg: ["1"]\n')).toBe('serve.yaml:4: watches[1].arg: unknown key (a watch takes watch, id, args, keep-going, severity)');
  });

  it('names the line and key of values of the wrong kind', () => {
    expect(problem('listen: 9464\nwatches: [{watch: syscalls}]\n')).toMatch(/^serve\.yaml:1: listen: must be a non-empty string/);
    expect(problem('watches:\n  - watch: syscalls\n    keep-going: yes please\n')).toBe('serve.yaml:3: watches[0].keep-going: must be true or false');
    expect(problem('watches:\n  - watch: syscalls\n    args: "1234"\n')).toMatch(/^serve\.yaml:3: watches\[0\]\.args: must be a list of strings/);
    expect(problem('watches:\n  - watch: syscalls\n    args:\n      - [1]\n')).toBe('serve.yaml:4: watches[0].args[0]: must be a string');
    expect(problem('buffer-kb: 10\nwatches: [{watch: syscalls}]\n')).toBe('serve.yaml:1: buffer-kb: must be an integer from 64 to 1048576');
    expect(problem('watches: [{watch: syscalls}]\nmax-series: 0\n')).toBe('serve.yaml:2: max-series: must be an integer from 1 to 10000');
    expect(problem('probe-backend: ebpf\nwatches: [{watch: syscalls}]\n')).toBe("serve.yaml:1: probe-backend: 'ebpf' is not one of auto, module, kprobe, bpf");
    expect(problem('watches: {watch: syscalls}\n')).toMatch(/^serve\.yaml:1: watches: must be a list of at least one watch/);
    expect(problem('watches:\n  - syscalls\n')).toMatch(/^serve\.yaml:2: watches\[0\]: must be a mapping/);
  });

  it('labels: names, values, and the ones tw sets itself', () => {
    expect(problem('labels:\n  site: lab\n  instance: x\nwatches: [{watch: syscalls}]\n')).toBe("serve.yaml:3: labels.instance: tw sets the label 'instance' itself");
    expect(problem('labels:\n  9site: lab\nwatches: [{watch: syscalls}]\n')).toMatch(/^serve\.yaml:2: labels\.9site: '9site' is not a label name/);
    expect(problem('labels:\n  site: [a]\nwatches: [{watch: syscalls}]\n')).toBe('serve.yaml:2: labels.site: must be a non-empty string');
  });

  it('ids: default the watch name (or the module file name), unique', () => {
    const c = parseServeConfig('watches:\n  - watch: ./w/my-watch.js\n  - watch: syscalls\n    id: sys-a\n', 'f');
    expect(c.watches.map((w) => w.id)).toEqual(['my-watch', 'sys-a']);
    expect(problem('watches:\n  - watch: syscalls\n  - watch: syscalls\n')).toBe("serve.yaml:3: watches[1].id: 'syscalls' is also the id of watches[0]: give each an id of its own (id: …)");
    expect(problem('watches:\n  - watch: syscalls\n    id: "a b"\n')).toMatch(/^serve\.yaml:3: watches\[0\]\.id: 'a b' is not an id/);
    expect(problem('watches:\n  - id: x\n')).toBe('serve.yaml:2: watches[0].watch: missing: which watch to run (see: tw watches)');
  });

  it('YAML errors, an empty file, no watches: a line and what is wrong', () => {
    expect(problem('watches:\n  - watch: syscalls\n   bad indent: [\n')).toMatch(/^serve\.yaml:\d+: yaml: /);
    expect(problem('watches:\n  - watch: a\nwatches:\n  - watch: b\n')).toMatch(/^serve\.yaml:3: yaml: .*[Uu]nique/);
    expect(problem('')).toMatch(/^serve\.yaml:1: watches: the file is empty/);
    expect(problem('listen: 127.0.0.1:1\n')).toMatch(/^serve\.yaml:1: watches: missing/);
    expect(problem('- a\n- b\n')).toMatch(/^serve\.yaml:1: \(top\): the file must be a mapping/);
  });
});
