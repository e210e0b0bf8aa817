import { statSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { TwError } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { findTestFiles, runNodeTests } from '../lib/test-run.js';

export default class Test extends TwCommand {
  static override summary = "Run a watch plugin's tests: node --test with tw's @tw/core and TypeScript loading.";
  static override description = `Runs Node's test runner (node --test) over the test files — FILES, or the directories among them searched, default test/ — with tw's module hooks imported first: test files and the watches they import may be TypeScript (transpiled, not type-checked), and @tw/core, @tw/core/testing and @tw/probe-spec are this tw's own copies, so a plugin needs no @tw package installed. Test files are *.test.ts, .mts, .js and .mjs. The exit code is the test runner's. The same without tw test: node --import <tw's @tw/cli/register module> --test FILES.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> test/my-watch.test.ts', '<%= config.bin %> <%= command.id %> --only'];
  static override strict = false;
  static override args = { files: Args.string({ description: 'test files or directories (default: test/)' }) };
  static override flags = {
    only: Flags.boolean({ summary: "Run only the tests marked { only: true } (node's --test-only)." }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Test);
    const given = (argv as string[]).length > 0 ? (argv as string[]) : ['test'];
    const files = given.flatMap((p) => {
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) throw new TwError('FILE_NOT_FOUND', `${p}: no such file or directory${(argv as string[]).length === 0 ? ' (tw test runs the tests under test/ unless given files)' : ''}`);
      return st.isDirectory() ? findTestFiles(p) : [p];
    });
    const code = await runNodeTests(files, flags.only ? ['--test-only'] : []);
    if (code !== 0) this.exit(code);
  }
}
