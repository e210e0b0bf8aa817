import { writeFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { TwError } from '@tw/core';
import { TwCommand } from '../../lib/base.js';
import { inputFlag } from '../../lib/input.js';

export default class GenTypes extends TwCommand {
  static override summary = 'Write the TypeScript types of the events of this kernel (or of a recording) for watches.';
  static override description = `Writes a .d.ts that augments @tw/core's TwEventMap with every event (system:event) of the running kernel (its tracefs formats; needs root) or, with --input, every event format the recording describes, plus the tw:<name> events of the installed plugins' probe specs. Each field has the type tw decodes it to: number; bigint for 64-bit integers and pointers; string for char arrays and __data_loc strings; number[] or bigint[] for other arrays. With the file in a watch's compilation (next to it, or in the tsconfig's "include"), defineWatch() checks and completes handler names (an exact system:event must exist; globs, "*" and "custom_event" stay allowed), the "events" list and e.fields.<name>; without it, they stay loose. Without -o the text goes to stdout.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> -o events.d.ts',
    '<%= config.bin %> <%= command.id %> --input examples/sample.dat -o events.d.ts',
    'sudo <%= config.bin %> <%= command.id %> > src/events.d.ts',
  ];
  static override flags = {
    input: inputFlag,
    output: Flags.string({ char: 'o', summary: 'Write the .d.ts here (default: stdout).', helpValue: 'FILE' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(GenTypes);
    // imported here, not at the top: oclif imports every command module on every tw invocation
    const { eventTypes } = await import('../../lib/event-types.js');
    const t = await eventTypes(this.config, flags.input);
    if (t.skipped.length > 0) process.stderr.write(`tw: note: ${t.skipped.length} events left out: their format does not parse (${t.skipped.slice(0, 5).join(', ')}${t.skipped.length > 5 ? ', …' : ''})\n`);
    if (flags.output === undefined) {
      process.stdout.write(t.text);
      return;
    }
    try {
      writeFileSync(flags.output, t.text);
    } catch (e) {
      throw new TwError('WRITE_FAILED', `${flags.output}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    process.stderr.write(`tw: ${flags.output}: ${t.events} events (${t.probes} of them probes' tw:* events)\n`);
  }
}
