import { defineConfig } from 'vitest/config';

// Three projects, by what a test needs (STYLE.md: file names say it):
//   unit    nothing: no root, no tracefs, no qemu (everything else)
//   kernel  root and tracefs: *.kernel.test.ts
//   vm      the qemu guest: *.vm.test.ts
// `npm test` runs them one after the other (scripts/test-all.mjs); `npm run test:<project>` one.
// A bare `vitest run` runs all three in that order (sequence.groupOrder), never side by side.
const where = ['packages/*/src/**/', 'test/src/**/'];
const files = (suffix: string) => where.map((w) => `${w}*${suffix}`);

export default defineConfig({
  test: {
    // Kernel and vm tests share the machine's tracefs and qemu: files run one at a time. (Vitest
    // 3 sets this for the whole run, not per project; test:unit turns it back on for unit.)
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: files('.test.ts'), exclude: [...files('.kernel.test.ts'), ...files('.vm.test.ts')], sequence: { groupOrder: 0 } },
      },
      { extends: true, test: { name: 'kernel', include: files('.kernel.test.ts'), sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'vm', include: files('.vm.test.ts'), sequence: { groupOrder: 2 } } },
    ],
  },
});
