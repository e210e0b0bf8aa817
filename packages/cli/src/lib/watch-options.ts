/**
 * A watch's own options (`tw watch who-killed 1234 --fatal`): tw's flags are oclif's, a watch's
 * options are the watch's (args with `option: true`), known only once the watch is loaded. So
 * the command finds the watch name in argv first (skipping tw's flags and their values), loads
 * the watch, takes its options out of argv, and hands oclif the rest.
 */
import { TwError, watchOptions, type AnyWatch } from '@tw/core';

/** What the argv splitter needs to know of one of tw's flags. */
export interface FlagShape {
  type: 'boolean' | 'option';
  char?: string;
}

/** The watch name: the first argument that is not a tw flag or a tw flag's value; undefined without one. */
export function watchNameOf(argv: readonly string[], flags: Readonly<Record<string, FlagShape>>): string | undefined {
  const byChar = new Map(Object.entries(flags).flatMap(([k, f]) => (f.char ? [[f.char, k] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (!a.startsWith('-') || a === '-') return a;
    if (a.includes('=')) continue;
    const name = a.startsWith('--') ? a.slice(2) : byChar.get(a.slice(1, 2));
    // a short flag with its value attached (-rFILE) takes no next argument
    if (!a.startsWith('--') && a.length > 2) continue;
    if (name !== undefined && flags[name]?.type === 'option') i++;
  }
  return undefined;
}

/**
 * Take the watch's options out of argv: `--<opt>`, `--no-<opt>` (switches), `--<opt>=<v>` and
 * `--<opt> <v>` (options with a value). Arguments after `--` are left alone.
 */
export function splitWatchOptions(argv: readonly string[], watch: AnyWatch, reserved: Iterable<string> = []): { argv: string[]; options: Record<string, string | boolean> } {
  const specs = new Map(watchOptions(watch));
  for (const r of reserved) {
    if (specs.has(r)) throw new TwError('INVALID_WATCH', `watch '${watch.name}': its option --${r} has the name of a tw watch flag; rename it`);
  }
  const rest: string[] = [];
  const options: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = /^--(no-)?([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(a);
    const spec = m ? specs.get(m[2]!) : undefined;
    if (!m || !spec) {
      rest.push(a);
      continue;
    }
    const [, no, name, value] = m as unknown as [string, string | undefined, string, string | undefined];
    if (spec.type === 'boolean') {
      if (value !== undefined && no) throw new TwError('BAD_ARGUMENT', `watch '${watch.name}': --no-${name} takes no value`);
      options[name] = no ? false : (value ?? true);
    } else if (no) {
      throw new TwError('BAD_ARGUMENT', `watch '${watch.name}': option --${name} is not a switch (--no-${name} means nothing)`);
    } else if (value !== undefined) {
      options[name] = value;
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new TwError('BAD_ARGUMENT', `watch '${watch.name}': option --${name} needs a value`);
      options[name] = next;
      i++;
    }
  }
  return { argv: rest, options };
}

/** A watch's usage words: `<pid> [name] [--fatal] [--limit <integer>]`. */
export function watchUsage(watch: AnyWatch): string[] {
  const args = Object.entries(watch.args ?? {}) as Array<[string, { required?: boolean; option?: boolean; type: string }]>;
  return args.map(([k, s]) => (s.option ? (s.type === 'boolean' ? `[--${k}]` : `[--${k} <${s.type}>]`) : s.required ? `<${k}>` : `[${k}]`));
}
