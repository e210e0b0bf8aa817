/**
 * `@tw/cli/register`: tw's module hooks for this process (see ./register-hooks.ts and
 * ./hooks.ts) — `node --import <this module> --test` runs a plugin's tests the way tw runs its
 * watches (what `tw test` does). Idempotent.
 */
import { registerHooks } from './register-hooks.js';

registerHooks();
