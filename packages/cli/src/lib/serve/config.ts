/**
 * tw serve's configuration file (YAML): read with the `yaml` package's document API so that
 * every problem names the file, the line and the key ("tw: /etc/tw/serve.yaml:7: watches[1].args:
 * …"). Only the shape is checked here; the watches' names and arguments are checked against the
 * installed watches by the command (resolveWatches), with the same FILE:LINE: key: form.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { isTwError, TwError } from '@tw/core';
import { parseAlertmanagerUrl } from './alertmanager.js';
import { CONFIG_KEYS, DEFAULT_LISTEN } from './keys.js';

export { CONFIG_KEYS, DEFAULT_LISTEN };

export interface ServeWatchConfig {
  /** the installed watch's name (or a path to a watch module) */
  watch: string;
  /** the `watch` label of its metrics and the alerts' `watch_id`: default the watch's name */
  id: string;
  /** its arguments and options as `tw watch` takes them after the name */
  args: string[];
  keepGoing: boolean;
  /** the `severity` label of its alerts to Alertmanager (default: warning) */
  severity?: string;
  /** where the entry starts, for later messages */
  line: number;
}

export interface ServeConfig {
  file: string;
  listen: { host: string; port: number };
  alertmanager: string[];
  labels: Record<string, string>;
  watches: ServeWatchConfig[];
  bufferKb: number;
  latencyMs: number;
  clock: string;
  backend: string;
  rtReaders: boolean;
  processEvents: boolean;
  probeBackend: string;
  exec: string | undefined;
  jsonAlerts: boolean;
  /** per watch metric: at most this many label sets (the rest fold into "_other") */
  maxSeries: number;
  /** alerts kept while no Alertmanager answers */
  alertQueue: number;
}

const WATCH_KEYS = ['watch', 'id', 'args', 'keep-going', 'severity'] as const;

/** A configuration problem at a place in the file. */
function problem(file: string, line: number, key: string, what: string, code: TwError['code'] = 'BAD_ARGUMENT'): TwError {
  return new TwError(code, `${file}:${line}: ${key}: ${what}`);
}

/** "host:port" (IPv6 in brackets): all interfaces only when written so (0.0.0.0, [::]). */
export function parseListen(text: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return `'${text}' is not host:port (e.g. ${DEFAULT_LISTEN}, [::1]:9464, 0.0.0.0:9464 for every interface)`;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${port} is not between 1 and 65535`;
  if (m[1] !== undefined && !isIPv6(host)) return `'${host}' is not an IPv6 address`;
  if (m[2] !== undefined && !isIPv4(host) && !/^[A-Za-z0-9.-]+$/.test(host)) return `'${host}' is not an address or host name`;
  return { host, port };
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Labels tw sets itself on alerts and metrics: a config label may not stand in for them. */
const RESERVED_LABELS = new Set(['alertname', 'instance', 'severity', 'watch', 'watch_id', 'job', 'comm', 'pid', 'cpu', 'event', 'cause', 'probe', 'backend', 'version', 'node']);

/** Parse and check a config text (file: how messages name it). */
export function parseServeConfig(text: string, file: string): ServeConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const lineOf = (n: Node | Pair | null | undefined): number => {
    const off = n && 'range' in n && n.range ? n.range[0] : n && 'key' in n && (n.key as Node | null)?.range ? (n.key as Node).range![0] : 0;
    return lc.linePos(off).line;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = lc.linePos(e.pos[0]).line;
    throw problem(file, line, 'yaml', e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  }
  const root = doc.contents;
  if (root === null || root === undefined) throw problem(file, 1, 'watches', 'the file is empty: it needs at least `watches:` with one watch');
  if (!isMap(root)) throw problem(file, lineOf(root), '(top)', 'the file must be a mapping of keys (listen:, watches:, ...)');

  const cfg: ServeConfig = {
    file,
    listen: parseListen(DEFAULT_LISTEN) as { host: string; port: number },
    alertmanager: [],
    labels: {},
    watches: [],
    bufferKb: 4096,
    latencyMs: 50,
    clock: 'mono',
    backend: 'auto',
    rtReaders: true,
    processEvents: true,
    probeBackend: 'auto',
    exec: undefined,
    jsonAlerts: false,
    maxSeries: 500,
    alertQueue: 1000,
  };
  let sawWatches = false;
  for (const pair of (root as YAMLMap).items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '?';
    const line = lineOf(keyNode);
    const v = pair.value as Node | null;
    const at = (n: Node | null | undefined) => (n ? lineOf(n) : line);
    const str = (n: Node | null, k: string): string => {
      if (!isScalar(n) || typeof n.value !== 'string' || n.value === '') throw problem(file, at(n), k, 'must be a non-empty string');
      return n.value;
    };
    const int = (n: Node | null, k: string, min: number, max: number): number => {
      if (!isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value) || n.value < min || n.value > max) throw problem(file, at(n), k, `must be an integer from ${min} to ${max}`);
      return n.value;
    };
    const bool = (n: Node | null, k: string): boolean => {
      if (!isScalar(n) || typeof n.value !== 'boolean') throw problem(file, at(n), k, 'must be true or false');
      return n.value;
    };
    const oneOf = (n: Node | null, k: string, options: readonly string[]): string => {
      const s = str(n, k);
      if (!options.includes(s)) throw problem(file, at(n), k, `'${s}' is not one of ${options.join(', ')}`);
      return s;
    };
    switch (key) {
      case 'listen': {
        const got = parseListen(str(v, key));
        if (typeof got === 'string') throw problem(file, at(v), key, got);
        cfg.listen = got;
        break;
      }
      case 'alertmanager': {
        if (!isSeq(v)) throw problem(file, at(v), key, 'must be a list of URLs (http://host:9093)');
        const posts = new Map<string, number>();
        cfg.alertmanager = v.items.map((item, i) => {
          const u = str(item as Node, `${key}[${i}]`);
          // the sink's own check (http/https, a base URL without query), so --check finds what serve would
          let post: string;
          try {
            post = parseAlertmanagerUrl(u).post.href;
          } catch (e) {
            throw problem(file, at(item as Node), `${key}[${i}]`, isTwError(e) ? e.message.replace(/^alertmanager URL /, '') : String(e));
          }
          const prev = posts.get(post);
          if (prev !== undefined) throw problem(file, at(item as Node), `${key}[${i}]`, `'${u}' is the same Alertmanager as ${key}[${prev}]`);
          posts.set(post, i);
          return u.replace(/\/+$/, '');
        });
        break;
      }
      case 'labels': {
        if (!isMap(v)) throw problem(file, at(v), key, 'must be a mapping of label: value');
        for (const lp of v.items) {
          const ln = isScalar(lp.key) ? String(lp.key.value) : '';
          const k = `${key}.${ln}`;
          if (!LABEL_NAME.test(ln) || ln.startsWith('__')) throw problem(file, lineOf(lp.key as Node), k, `'${ln}' is not a label name (letters, digits and _, not starting with a digit or __)`);
          if (RESERVED_LABELS.has(ln)) throw problem(file, lineOf(lp.key as Node), k, `tw sets the label '${ln}' itself`);
          const lv = lp.value as Node | null;
          if (!isScalar(lv) || (typeof lv.value !== 'string' && typeof lv.value !== 'number') || String(lv.value) === '') throw problem(file, at(lv), k, 'must be a non-empty string');
          cfg.labels[ln] = String(lv.value);
        }
        break;
      }
      case 'watches': {
        sawWatches = true;
        if (!isSeq(v) || v.items.length === 0) throw problem(file, at(v), key, 'must be a list of at least one watch ({watch: NAME, id?, args?, keep-going?, severity?})');
        const ids = new Map<string, number>();
        v.items.forEach((item, i) => {
          const w = item as Node;
          const base = `${key}[${i}]`;
          if (!isMap(w)) throw problem(file, at(w), base, 'must be a mapping ({watch: NAME, id?, args?, keep-going?, severity?})');
          const entry: Partial<ServeWatchConfig> = { args: [], keepGoing: false, line: at(w) };
          for (const wp of w.items) {
            const wk = isScalar(wp.key) ? String(wp.key.value) : '?';
            const wv = wp.value as Node | null;
            const k = `${base}.${wk}`;
            if (wk === 'watch') entry.watch = str(wv, k);
            else if (wk === 'id') {
              const id = str(wv, k);
              if (!/^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,63}$/.test(id)) throw problem(file, at(wv), k, `'${id}' is not an id (letters, digits, _ . : -, at most 64)`);
              entry.id = id;
            } else if (wk === 'args') {
              if (!isSeq(wv)) throw problem(file, at(wv), k, 'must be a list of strings, as `tw watch NAME` takes them (e.g. ["1234", "--fatal"])');
              entry.args = wv.items.map((a, j) => {
                if (!isScalar(a) || (typeof a.value !== 'string' && typeof a.value !== 'number')) throw problem(file, at(a as Node), `${k}[${j}]`, 'must be a string');
                return String(a.value);
              });
            } else if (wk === 'keep-going') entry.keepGoing = bool(wv, k);
            else if (wk === 'severity') {
              const sev = str(wv, k);
              if (!/^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,63}$/.test(sev)) throw problem(file, at(wv), k, `'${sev}' is not a severity (a word such as critical, warning, info: letters, digits, _ . : -)`);
              entry.severity = sev;
            }
            else throw problem(file, lineOf(wp.key as Node), k, `unknown key (a watch takes ${WATCH_KEYS.join(', ')})`);
          }
          if (entry.watch === undefined) throw problem(file, at(w), `${base}.watch`, 'missing: which watch to run (see: tw watches)');
          entry.id ??= entry.watch.replace(/^.*\//, '').replace(/\.m?js$/, '');
          const prev = ids.get(entry.id);
          if (prev !== undefined) throw problem(file, at(w), `${base}.id`, `'${entry.id}' is also the id of watches[${prev}]: give each an id of its own (id: …)`);
          ids.set(entry.id, i);
          cfg.watches.push(entry as ServeWatchConfig);
        });
        break;
      }
      case 'buffer-kb':
        cfg.bufferKb = int(v, key, 64, 1 << 20);
        break;
      case 'latency-ms':
        cfg.latencyMs = int(v, key, 1, 10_000);
        break;
      case 'clock':
        cfg.clock = str(v, key);
        break;
      case 'backend':
        cfg.backend = str(v, key);
        break;
      case 'rt-readers':
        cfg.rtReaders = bool(v, key);
        break;
      case 'process-events':
        cfg.processEvents = bool(v, key);
        break;
      case 'probe-backend':
        cfg.probeBackend = oneOf(v, key, ['auto', 'module', 'kprobe', 'bpf']);
        break;
      case 'exec':
        cfg.exec = str(v, key);
        break;
      case 'json-alerts':
        cfg.jsonAlerts = bool(v, key);
        break;
      case 'max-series':
        cfg.maxSeries = int(v, key, 1, 10_000);
        break;
      case 'alert-queue':
        cfg.alertQueue = int(v, key, 1, 1_000_000);
        break;
      default:
        throw problem(file, line, key, `unknown key (known: ${CONFIG_KEYS.join(', ')})`);
    }
  }
  if (!sawWatches) throw problem(file, 1, 'watches', 'missing: the watches to run (watches: [{watch: syscalls}])');
  return cfg;
}

/** Read and parse a config file. */
export function readServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TwError('FILE_NOT_FOUND', `${file}: cannot read the config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseServeConfig(text, file);
}

/** The config problem of a watch entry (its name or args), said at its line; the error's own code (and exit code) is kept. */
export function watchProblem(cfg: ServeConfig, i: number, key: string, err: unknown): TwError {
  const code = isTwError(err) ? err.code : 'BAD_ARGUMENT';
  return problem(cfg.file, cfg.watches[i]?.line ?? 1, `watches[${i}]${key ? `.${key}` : ''}`, err instanceof Error ? err.message : String(err), code);
}
