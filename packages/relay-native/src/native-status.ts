/** Whether the addon loaded, from which file, or why not (for `tw doctor`-style reports). */
import { loadNative } from './load-native.js';

export function nativeStatus(): { loaded: boolean; path: string | undefined; reason: string | undefined } {
  const s = loadNative();
  return { loaded: s.binding !== undefined, path: s.path, reason: s.reason };
}
