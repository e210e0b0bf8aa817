#!/usr/bin/env node
// Colour only for a terminal: oclif's colour library decides once, when it is first imported,
// and turns colour on whenever CI is set in the environment, even into a pipe or a file. tw's
// output to anything but a terminal carries no escape sequences, so unless both stdout and
// stderr are terminals (or FORCE_COLOR says otherwise) NO_COLOR is set before anything loads it.
if (!(process.stdout.isTTY && process.stderr.isTTY) && process.env.FORCE_COLOR === undefined && process.env.NO_COLOR === undefined) {
  process.env.NO_COLOR = '1';
}

const { execute } = await import('@oclif/core');
const { loadOptions } = await import('../dist/lib/user-plugins.js');
const { registerHooks, userPluginsInstalled } = await import('../dist/register/register-hooks.js');

// tw's module hooks (TypeScript, tw's own @tw/core) before oclif loads user plugins, when there
// are any (the hooks' thread costs memory; a watch file registers them when it loads)
if (userPluginsInstalled()) registerHooks();

// loadOptions: oclif's usual start, without user plugins when their list is unreadable (quietly)
await execute({ loadOptions: loadOptions(import.meta.url) });
