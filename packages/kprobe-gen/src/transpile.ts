/**
 * <name>.unpack.ts → <name>.unpack.js: the generated unpacker as an ES module tw can import,
 * compiled with the TypeScript compiler API (ts.transpileModule: one file, no type checking —
 * the TS file is type-checked in kprobe-gen's tests). The generated header stays first.
 *
 * TypeScript (~9 MB of JS) is loaded on the first compile only: a stored unpacker is found
 * without it (see unpacker.ts), which matters where Node is slow to start (a qemu guest).
 */
import { createRequire } from 'node:module';
import { TwError } from '@tw/core';

type TypeScript = typeof import('typescript');

const require = createRequire(import.meta.url);
let ts: TypeScript | undefined;

function typescript(): TypeScript {
  try {
    ts ??= require('typescript') as TypeScript;
  } catch (e) {
    throw new TwError('UNPACKER', `cannot load the TypeScript compiler (the 'typescript' package) to compile a generated unpacker: ${(e as Error).message}`, { cause: e });
  }
  return ts;
}

/** The TypeScript version that compiles unpackers (from its package.json: the compiler is not loaded). */
export function typescriptVersion(): string {
  return (require('typescript/package.json') as { version: string }).version;
}

/**
 * Compile one generated unpacker to an ES2022 module. Throws UNPACKER when TypeScript reports a
 * syntax error (a generator bug) or the output does not start with the generated header.
 */
export function transpileUnpacker(tsText: string, fileName: string): string {
  const t = typescript();
  const r = t.transpileModule(tsText, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: {
      target: t.ScriptTarget.ES2022,
      module: t.ModuleKind.ES2022,
      newLine: t.NewLineKind.LineFeed,
      removeComments: false,
      sourceMap: false,
    },
  });
  const problems = (r.diagnostics ?? []).map((d) => t.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (problems.length > 0) throw new TwError('UNPACKER', `compiling ${fileName} failed: ${problems.join('; ')}`);
  const lines = r.outputText.split('\n');
  const firstTs = tsText.slice(0, tsText.indexOf('\n'));
  if (lines[0] !== firstTs) throw new TwError('UNPACKER', `compiling ${fileName}: the output does not start with the generated header (got ${JSON.stringify(lines[0])})`);
  // after the header comment block: say where this file comes from (the types live there)
  const end = lines.findIndex((l) => !l.startsWith('//'));
  const note = [
    '//',
    `// Compiled from ${fileName} (which has the payload's TypeScript type) by TypeScript's`,
    '// transpileModule, as an ES2022 module.',
  ];
  lines.splice(end === -1 ? lines.length : end, 0, ...note);
  return lines.join('\n');
}
