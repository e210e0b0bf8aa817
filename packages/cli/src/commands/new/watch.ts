import { Args } from '@oclif/core';
import { TwCommand } from '../../lib/base.js';
import { newWatch } from '../../lib/scaffold.js';

export default class NewWatch extends TwCommand {
  static override summary = 'Write a typed watch file that runs as it is: NAME.ts.';
  static override description = `Writes NAME.ts (NAME may include a directory; the watch's name is its base name, kebab-case): a watch in TypeScript that counts context switches per task, importing @tw/core — tw's own copy, wherever the file lives. Next to it, when that directory has no tsconfig.json, a tsconfig.json whose "paths" point @tw/core at this tw's types, for tsc and editors. Run it with tw watch ./NAME.ts (--input FILE for a recording); add the kernel's event types with tw gen types -o events.d.ts. Never overwrites a file.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> top-switches',
    '<%= config.bin %> <%= command.id %> top-switches && <%= config.bin %> watch ./top-switches.ts --input trace.dat',
    '<%= config.bin %> <%= command.id %> watches/busy',
  ];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ required: true, description: 'the watch (file) name, kebab-case; .ts is added' }) };

  async run(): Promise<unknown> {
    const { args } = await this.parse(NewWatch);
    const r = newWatch(args.name);
    if (!this.jsonEnabled()) {
      for (const f of r.files) this.log(`wrote ${f}`);
      const file = r.files[0]!;
      this.log(`run it: tw watch ${file.includes('/') ? file : `./${file}`} --input trace.dat (or live: sudo tw watch ${file.includes('/') ? file : `./${file}`})`);
    }
    return r;
  }
}
