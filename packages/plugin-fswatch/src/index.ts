import type { AnyWatch } from '@tw/core';
import whoDeleted from './watches/who-deleted.js';
import whoModified from './watches/who-modified.js';

export { whoDeleted, whoModified };
export type { WhoDeletedResult, Deletion } from './watches/who-deleted.js';
export type { WhoModifiedResult, Modification } from './watches/who-modified.js';

/** The watches this plugin provides (tw discovers them through package.json "tw.watches"). */
export const watches: AnyWatch[] = [whoDeleted, whoModified];
export default watches;
