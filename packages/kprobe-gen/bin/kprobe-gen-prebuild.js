#!/usr/bin/env node
// The build step of a package that ships probe specs: compiles them into <package>/dist/bpf as
// prebuilt BPF objects when clang is there, else says in one line why not (and succeeds).
//   kprobe-gen-prebuild [PACKAGE_DIR]   (default: the current directory)
import { prebuildPackage, prebuildSummary } from '../dist/bpf/prebuild.js';

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help') || args.length > 1) {
  process.stdout.write('usage: kprobe-gen-prebuild [PACKAGE_DIR]\ncompiles the probe specs of the package ("tw": { "probes": … } in its package.json) into PACKAGE_DIR/dist/bpf as prebuilt CO-RE BPF objects; without clang, bpftool or kernel BTF it builds none and says why\n');
  process.exit(args.length > 1 ? 2 : 0);
}
try {
  const r = await prebuildPackage(args[0] ?? process.cwd());
  process.stdout.write(`kprobe-gen-prebuild: ${prebuildSummary(r)}\n`);
} catch (e) {
  process.stderr.write(`kprobe-gen-prebuild: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
