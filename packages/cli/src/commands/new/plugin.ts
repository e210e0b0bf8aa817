import { Args, Flags } from '@oclif/core';
import { TwCommand } from '../../lib/base.js';
import { newPlugin } from '../../lib/scaffold.js';

export default class NewPlugin extends TwCommand {
  static override summary = 'Start a watch plugin package in DIR: one typed watch, a fixture recording and a passing test.';
  static override description = `Creates DIR (new, or empty) with: package.json (its name is DIR's base name; "tw": { "watches": "./src/index.ts" } and "oclif": {} make it a tw plugin; scripts: test = tw test, types = tw gen types), src/<watch>.ts (a typed watch; its name defaults to DIR's name without a tw- or tw-plugin- prefix), src/index.ts (the list of watches), src/events.d.ts (the event types of the fixture), test/fixture.dat (a small recording), test/<watch>.test.ts (node:test with @tw/core/testing), tsconfig.json (@tw/* pointing at this tw's copies) and a README. It depends on no package: in DIR, npm install && npm test pass with only tw installed; tw plugins link DIR (or install) makes its watch a tw watch.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> tw-plugin-sched && cd tw-plugin-sched && npm install && npm test',
    '<%= config.bin %> <%= command.id %> ./my-plugin --watch busy-tasks',
  ];
  static override enableJsonFlag = true;
  static override args = { dir: Args.string({ required: true, description: 'the new package directory' }) };
  static override flags = {
    watch: Flags.string({ summary: "The watch's name (kebab-case; default: from DIR).", helpValue: 'NAME' }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(NewPlugin);
    const r = await newPlugin(args.dir, flags.watch === undefined ? {} : { watch: flags.watch });
    if (!this.jsonEnabled()) {
      this.log(`created ${r.name} in ${args.dir}: ${r.files.join(', ')}`);
      this.log(`next: cd ${args.dir} && npm install && npm test; tw plugins link ${args.dir}; tw watch ${r.watch} --input ${args.dir}/test/fixture.dat`);
    }
    return r;
  }
}
