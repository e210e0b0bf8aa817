// Core's layers, checked on the source: every import of every file under core/src (tests
// included) is resolved and held against the rules below, so a layer cannot start depending on
// the one above it unseen. Data flows decode ← tracedat/live (they feed pages in), session
// consumes a TraceSource, watches see only the watch API (docs/architecture.md).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

interface Rule {
  /** files this rule applies to: a folder ('decode/') or one file ('session/engine.ts'), under src/ */
  files: string;
  /** imports they may not make: a folder or file under src/, or a package name */
  banned: string;
  why: string;
}

const RULES: readonly Rule[] = [
  { files: 'decode/', banned: 'tracedat/', why: 'decode is the layer below the trace.dat reader: PageSource is decode\'s, tracedat implements it' },
  { files: 'watch/', banned: 'session/', why: 'the watch API (ProcessInfo included) is what the session implements, not the reverse' },
  { files: 'session/engine.ts', banned: 'tracedat/', why: 'the engine consumes a TraceSource; trace.dat page sources are built in session/offline' },
  ...['@oclif/core', 'handlebars', 'execa', '@tw/relay-native', '@tw/kprobe-gen', '@tw/cli'].map((pkg) => ({
    files: '',
    banned: pkg,
    why: 'core imports none of oclif, handlebars, execa, the addon or other tw packages',
  })),
];

/** Every .ts file under dir, as a path relative to src/ with '/' separators. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(full));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(relative(SRC, full).split(sep).join('/'));
  }
  return out;
}

/** The module specifiers a file imports or re-exports: static, side-effect and dynamic imports. */
function importsOf(text: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/gm, // import x from '…', export { x } from '…' (also across lines)
    /^\s*import\s*['"]([^'"]+)['"]/gm, //                                import '…'
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, //                          import('…')
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) specs.push(m[1]!);
  return specs;
}

/** A specifier as the rules name it: a path under src/ for relative imports, else the package. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts');
}

function matches(path: string, pattern: string): boolean {
  if (pattern === '') return true;
  if (pattern.endsWith('/')) return path.startsWith(pattern);
  return path === pattern || path.startsWith(`${pattern}/`);
}

describe('core layers', () => {
  const files = tsFiles(SRC);

  it('finds the source and its imports', () => {
    expect(files).toContain('session/engine.ts');
    expect(files).toContain('decode/cpu-stream.ts');
    expect(importsOf("import type {\n  A,\n  B,\n} from '../x/y.js';\nexport * from './z.js';\nconst m = await import('node:zlib');")).toEqual(['../x/y.js', './z.js', 'node:zlib']);
  });

  for (const rule of RULES) {
    it(`${rule.files || 'core'} does not import ${rule.banned}`, () => {
      const broken: string[] = [];
      for (const file of files.filter((f) => matches(f, rule.files))) {
        for (const spec of importsOf(readFileSync(join(SRC, file), 'utf8'))) {
          if (matches(target(file, spec), rule.banned)) broken.push(`${file} imports '${spec}'`);
        }
      }
      expect(broken, rule.why).toEqual([]);
    });
  }
});
