#!/usr/bin/env node
import { execute } from '@oclif/core';
import { loadOptions } from '../dist/lib/user-plugins.js';

// loadOptions: oclif's usual start, without user plugins when their list is unreadable (quietly)
await execute({ loadOptions: loadOptions(import.meta.url) });
