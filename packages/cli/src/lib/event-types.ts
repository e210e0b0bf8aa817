/**
 * What `tw gen types` (and `tw new`) write: the event map of the running kernel or of a
 * recording, plus the tw:<name> events of the installed plugins' probe specs, as a .d.ts that
 * augments '@tw/core' (core's renderEventTypes). A probe's event gets the format its spec
 * implies (the one the layout check holds every backend to), so it is typed even where the
 * probe is not loaded; a recording's own format of it is replaced by that one.
 */
import { accessSync, constants } from 'node:fs';
import type { Config } from '@oclif/core';
import { Tracefs, TwError, findTracefs, kernelFormats, parseEventFormat, recordingFormats, renderEventTypes, type EventFormat } from '@tw/core';
import { eventFormatText } from '@tw/probe-spec';
import { loadProbeSpecs } from './probes.js';

export interface EventTypes {
  /** the .d.ts text */
  text: string;
  /** how many events it types (probes included) */
  events: number;
  /** of those, the probes' tw:<name> events */
  probes: number;
  /** kernel events whose format did not parse (left out) */
  skipped: string[];
}

/** The formats of a recording (`input`) or of the running kernel (needs root: a clear error otherwise). */
async function sourceFormats(input: string | undefined): Promise<{ formats: EventFormat[]; from: string; skipped: string[] }> {
  if (input !== undefined) return { formats: await recordingFormats(input), from: input, skipped: [] };
  const root = findTracefs();
  try {
    accessSync(`${root}/available_events`, constants.R_OK);
  } catch {
    throw new TwError('NO_PERMISSION', `the running kernel's event formats (${root}/events) are readable by root only: run with sudo, or type a recording's events with --input FILE`);
  }
  const { formats, skipped } = kernelFormats(new Tracefs(root));
  let release = '';
  try {
    release = (await import('node:os')).release();
  } catch {
    // the header just says "the running kernel"
  }
  return { formats, from: `the running kernel${release ? ` ${release}` : ''}`, skipped };
}

/** The event types of `input` (or of this kernel) and of the probes of the plugins `config` knows. */
export async function eventTypes(config: Config, input: string | undefined): Promise<EventTypes> {
  const { formats, from, skipped } = await sourceFormats(input);
  const probes = (await loadProbeSpecs(config)).map(({ spec }) => parseEventFormat(eventFormatText(spec, 0), `probe spec ${spec.name}`, 'tw'));
  const probeNames = new Set(probes.map((f) => f.fullName));
  const all = [...formats.filter((f) => !probeNames.has(f.fullName)), ...probes];
  const text = renderEventTypes(all, { from: `${from} and ${probes.length} probe specs`, generator: 'tw gen types' });
  return { text, events: new Set(all.map((f) => f.fullName)).size, probes: probes.length, skipped };
}
