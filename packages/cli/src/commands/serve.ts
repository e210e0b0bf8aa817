import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { TwError } from '@tw/core';
import { TwCommand } from '../lib/base.js';
import { CONFIG_KEYS, DEFAULT_LISTEN } from '../lib/serve/keys.js';
import { systemdUnit } from '../lib/serve/systemd.js';
import { HTTP_LIMITS, METRICS_REUSE_MS } from '../lib/serve/http.js';

/** The example config `--example-config` prints: every key, the optional ones commented out with their defaults. */
export const EXAMPLE_CONFIG = `# tw serve config (YAML). Check it: tw serve --check --config FILE
listen: 127.0.0.1:9464     # the default; every interface only when written: 0.0.0.0:9464, [::]:9464
alertmanager:              # Alertmanager v2 API: every one of the cluster gets every alert
  - http://127.0.0.1:9093
labels: { site: lab, role: db }   # on every alert, and on the tw_info metric
watches:
  - watch: syscalls        # its id (the label watch="...") is its name
  - watch: who-killed
    id: who-killed-nginx   # ids must be unique
    args: ["nginx", "--fatal"]   # as \`tw watch who-killed\` takes them, options too
    keep-going: true       # report every culprit, not only the first
    severity: critical     # its alerts' severity label (default warning)
# buffer-kb: 4096          # ring buffer per CPU
# latency-ms: 50           # longest an event waits before its handlers
# clock: mono
# backend: auto            # ring-buffer reader
# rt-readers: true
# process-events: true
# probe-backend: auto      # auto, module, kprobe, bpf
# max-series: 500          # label sets per watch metric, the rest in "_other"
# alert-queue: 1000        # alerts kept per Alertmanager while it is down
# exec: 'logger -t tw "$TW_MESSAGE"'   # a command per alert, as tw watch --exec
# json-alerts: false       # alerts as {"alert":{...}} lines on stdout
`;

/**
 * The service itself (prom-client, the live engine, the HTTP thread), imported when serve runs:
 * oclif imports every command module to list the commands, so a top-level import here would
 * cost every tw invocation its load time.
 */
function runtime(): Promise<typeof import('../lib/serve/serve.js')> {
  return import('../lib/serve/serve.js');
}

export default class Serve extends TwCommand {
  static override summary = 'Run watches as a service: Prometheus metrics at /metrics, alerts to Alertmanager.';
  static override description = `tw serve runs the watches of a YAML config file together, in one live tracing session (one tracefs instance, one set of probes: the union of the watches' events; where two watches filter the same event differently, the kernel filters are joined with ||, or dropped when one of them wants it unfiltered — each watch's handlers pick their own events, as they do on a recording). Needs root, like tw watch.
A config (tw serve --example-config prints one with every key explained; unknown keys are errors):
listen: 127.0.0.1:9464
alertmanager: [http://127.0.0.1:9093]
labels: {site: lab}
watches:
- {watch: syscalls}
- {watch: who-killed, args: ["nginx"], keep-going: true}
Once every watch is attached it prints one line on stderr beginning "tw: tracing" (as tw watch); everything else it says is a JSON line on stderr ({"level","msg","time",...}: journald keeps each as one entry). "tw serve --check --config FILE" only checks the file (its keys and each watch's name and arguments) and exits 0, or non-zero (5; 4 for a watch that is not installed; 2 when the file cannot be read) with "tw: FILE:LINE: key: problem".
HTTP (node:http, default ${DEFAULT_LISTEN}): GET /metrics in the Prometheus text format — tw's own metrics (tw_events_total{event}, tw_lost_events_total{cpu,cause}, tw_handler_seconds_total{watch}, tw_alerts_total{watch}, tw_watch_running{watch}, tw_watch_errors_total{watch}, tw_reader_pool_waits_total{cpu}, tw_reader_pool_wait_seconds_total{cpu}, tw_probe_info{probe,backend}, tw_build_info{version,node}, tw_info{<labels>}, tw_tracing, tw_sessions_total, tw_config_reloads_total{result}, tw_metrics_render_seconds_total, the process's CPU and memory) and every metric the watches declare (tw_<watch>_<name>{watch="<id>",...}); GET /healthz: 200 {"tracing":true,...} while tracing, else 503. Nothing else is answered (404, 405). Slow clients are cut off (headers within ${HTTP_LIMITS.headersTimeoutMs / 1000} s, a request within ${HTTP_LIMITS.requestTimeoutMs / 1000} s, at most ${HTTP_LIMITS.maxConnections} connections), concurrent scrapes share one rendering (reused for ${METRICS_REUSE_MS} ms), and tracing never waits for HTTP.
A watch that ends itself (ctx.stop(): who-killed once it has its answer, without keep-going) stops only itself: tw_watch_running goes to 0, its result is logged when tw serve ends; a watch whose handler throws is stopped the same way and counted in tw_watch_errors_total. The others go on.
Alerts go to every configured Alertmanager (API v2; labels alertname = the watch, instance = the host, severity, watch = the id, the culprit's comm and pid, and the config's labels; annotations: the message and the culprit's pid, exe, cmdline, parents; each Alertmanager has its own bounded queue (alert-queue), retried with backoff while it is down, drops counted in tw_alertmanager_dropped_total; see docs/alertmanager.md), to "exec" (a shell command per alert, as tw watch --exec) and, with json-alerts: true, as {"alert":{...}} lines on stdout.
SIGHUP reloads the config: watches added or removed restart the tracing session (a fraction of a second without tracing); the watches whose entries did not change keep their state and their counters. listen, labels, alertmanager, exec and json-alerts changes take effect at the next start. A config that does not check is logged and the running one kept. SIGTERM or SIGINT end tracing and remove everything tw set up in the kernel, exit 0; after kill -9 tw's guardian removes it.
As a systemd service: tw serve --print-systemd-unit --config /etc/tw/serve.yaml > /etc/systemd/system/tw-serve.service, then systemctl daemon-reload && systemctl enable --now tw-serve (reload: systemctl reload tw-serve). See docs/fleet.md for a fleet.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> --config /etc/tw/serve.yaml',
    '<%= config.bin %> <%= command.id %> --example-config > /etc/tw/serve.yaml',
    '<%= config.bin %> <%= command.id %> --check --config /etc/tw/serve.yaml',
    '<%= config.bin %> <%= command.id %> --print-systemd-unit --config /etc/tw/serve.yaml > /etc/systemd/system/tw-serve.service',
    'curl -s http://127.0.0.1:9464/metrics | grep ^tw_syscalls',
  ];
  static override flags = {
    config: Flags.string({ char: 'c', summary: `The YAML config file (keys: ${CONFIG_KEYS.join(', ')}).`, helpValue: 'FILE' }),
    check: Flags.boolean({ summary: 'Check the config file (keys, watch names and arguments) and exit: 0 when it is good, else one line "tw: FILE:LINE: key: problem".' }),
    'example-config': Flags.boolean({ summary: 'Print an example config, every key explained, and exit.' }),
    'print-systemd-unit': Flags.boolean({ summary: 'Print a systemd unit that runs tw serve with this --config, and exit.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve);
    if (flags['example-config']) {
      process.stdout.write(EXAMPLE_CONFIG);
      return;
    }
    if (flags.config === undefined) throw new TwError('BAD_ARGUMENT', 'tw serve needs --config FILE (see tw serve --help for an example config)');
    const file = flags.config;
    if (flags['print-systemd-unit']) {
      // the unit names the files as they are now, absolute (systemd starts from /)
      const tw = realpathSync(process.argv[1] ?? 'tw');
      process.stdout.write(systemdUnit({ tw, node: process.execPath, config: resolve(file) }));
      return;
    }
    if (flags.check) {
      const { readServeConfig } = await import('../lib/serve/config.js');
      const cfg = readServeConfig(file);
      const { resolveWatches } = await runtime();
      await resolveWatches(this.config, cfg);
      process.stderr.write(`tw: ${file}: the config is good (${cfg.watches.length} watch${cfg.watches.length === 1 ? '' : 'es'}: ${cfg.watches.map((w) => w.id).join(', ')})\n`);
      return;
    }
    const { serve } = await runtime();
    await serve({ config: this.config, file, version: this.config.version });
  }
}
