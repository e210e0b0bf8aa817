export { loadWatches, findWatch, type InstalledWatch } from './lib/watches.js';
