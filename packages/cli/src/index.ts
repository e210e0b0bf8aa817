export { loadWatches, findWatch, type InstalledWatch } from './lib/watches.js';
export { AlertmanagerSink, ALERTMANAGER_DEFAULTS, type AlertmanagerOptions, type DropReason } from './lib/serve/alertmanager.js';
export type { AlertExtra, PostableAlert } from './lib/serve/alertmanager-alert.js';
