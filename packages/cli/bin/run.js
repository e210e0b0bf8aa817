#!/usr/bin/env node
import { execute } from '@oclif/core';
import { loadOptions } from '../dist/lib/user-plugins.js';
import { registerHooks, userPluginsInstalled } from '../dist/register/register-hooks.js';

// tw's module hooks (TypeScript, tw's own @tw/core) before oclif loads user plugins, when there
// are any (the hooks' thread costs memory; a watch file registers them when it loads)
if (userPluginsInstalled()) registerHooks();

// loadOptions: oclif's usual start, without user plugins when their list is unreadable (quietly)
await execute({ loadOptions: loadOptions(import.meta.url) });
