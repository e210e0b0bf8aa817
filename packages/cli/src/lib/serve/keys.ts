/**
 * The config's keys and the default listen address: what `tw serve --help` shows. Kept apart
 * from config.ts (which loads the YAML parser and the Alertmanager client) because oclif imports
 * every command module, serve's too, on every tw invocation.
 */
export const DEFAULT_LISTEN = '127.0.0.1:9464';

/** Every key the file may have, with what it takes (for the messages and --help). */
export const CONFIG_KEYS = [
  'listen',
  'alertmanager',
  'labels',
  'watches',
  'buffer-kb',
  'latency-ms',
  'clock',
  'backend',
  'rt-readers',
  'process-events',
  'probe-backend',
  'exec',
  'json-alerts',
  'max-series',
  'alert-queue',
] as const;
