/**
 * The systemd unit `tw serve --print-systemd-unit` prints. Hardening stops where tw's work
 * starts: tracing writes tracefs under /sys (ProtectKernelTunables would make /sys read-only),
 * the module probe backend loads modules (ProtectKernelModules would forbid it), BPF needs
 * CAP_BPF/CAP_SYS_ADMIN and the guardian a process of its own, so tw runs as root with those
 * left alone; the rest of the system is read-only to it except its cache.
 */
export function systemdUnit(o: { tw: string; node: string; config: string }): string {
  const q = (s: string) => (/^[A-Za-z0-9_./:@+-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`);
  return `[Unit]
Description=TraceWatch: kernel trace watches as a service (Prometheus metrics, Alertmanager alerts)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStartPre=${q(o.node)} ${q(o.tw)} serve --check --config ${q(o.config)}
ExecStart=${q(o.node)} ${q(o.tw)} serve --config ${q(o.config)}
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM ends tracing and removes tw's instance and probes; give it time before SIGKILL. The
# default KillMode (control-group) is right: tw's guardian ignores SIGTERM, so after a crash
# or a kill -9 of tw it still removes what tw left before it exits
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=5
# tracefs, perf/BPF and (module backend) insmod need root; logs are JSON lines on stderr
User=root
StandardError=journal
# generated probes (BPF objects, modules) are cached here
CacheDirectory=tw
Environment=XDG_CACHE_HOME=/var/cache
# hardening that leaves tracing alone: no ProtectKernelTunables (it makes /sys, hence
# /sys/kernel/tracing, read-only), no ProtectKernelModules (the module probe backend loads one)
ProtectSystem=full
ProtectHome=read-only
PrivateTmp=yes
NoNewPrivileges=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
# the ring-buffer readers run at SCHED_FIFO 1 (--rt-readers): RestrictRealtime must stay off
RestrictRealtime=no
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;
}
