#!/usr/bin/env node
// first: tw's module hooks (TypeScript watch files and plugins, tw's own @tw/core for them)
import '../dist/register/index.js';
import { execute } from '@oclif/core';
import { loadOptions } from '../dist/lib/user-plugins.js';

// loadOptions: oclif's usual start, without user plugins when their list is unreadable (quietly)
await execute({ loadOptions: loadOptions(import.meta.url) });
