/**
 * The probe specs the plugins ship, for the generator's snapshot and Kbuild tests. Imported by
 * package name (built dist): the plugins depend on kprobe-gen, not the other way round, so this
 * is a test-only reach across and must not become a package dependency.
 */
import { probes as fswatch } from '@tw/plugin-fswatch/probes';
import { probes as kill } from '@tw/plugin-kill/probes';
import type { ProbeSpec } from '@tw/probe-spec';

export const shippedSpecs: ProbeSpec[] = [...fswatch, ...kill];
