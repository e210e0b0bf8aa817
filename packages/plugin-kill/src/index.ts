import type { AnyWatch } from '@tw/core';
import whoKilled from './watches/who-killed.js';

export { whoKilled };
export { signalName } from './watches/who-killed.js';
export type { WhoKilledResult, SignalSent } from './watches/who-killed.js';

/** The watches this plugin provides (tw discovers them through package.json "tw.watches"). */
export const watches: AnyWatch[] = [whoKilled];
export default watches;
