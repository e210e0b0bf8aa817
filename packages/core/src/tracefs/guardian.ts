/**
 * The guardian: a small shell process, started detached (its own session, so a terminal's
 * Ctrl-C or hang-up does not reach it) before tw puts anything into the kernel, that holds the
 * read end of a socket whose write end only tw holds. tw tells it each kernel object as it
 * creates it (before creating or enabling it) and again once it removed it:
 *
 *   +instance NAME / -instance NAME   tracefs instances (instances/NAME)
 *   +kprobe GROUP NAME / -kprobe …    kprobe events tw appended to kprobe_events
 *   +module NAME / -module NAME       modules tw loaded
 *   done                              tw is finished: exit once nothing is held
 *
 * When the socket closes — tw is gone, however it ended: kill -9, V8 out of memory, a forced
 * exit — the guardian removes what is still held: instances first (tracing off, events off,
 * rmdir, retried while the dead process's files are still being closed), then kprobe events,
 * then modules; then it exits. BPF programs need nothing: they go with the process's files.
 * Written as a POSIX shell script so that it costs a fork and an exec of sh, not a second Node.
 *
 * Each line reaches the socket before hold()/release() return (a synchronous write): whatever
 * tw created after hold() returned, the guardian knows of, even when tw is killed at the next
 * instruction.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';

/** A kernel object tw creates and must not leave behind. */
export type GuardedObject =
  | { kind: 'instance'; name: string }
  | { kind: 'kprobe-event'; group: string; name: string }
  | { kind: 'module'; name: string };

/** What the probe backends and instances need of the guardian: say before creating, and after removing. */
export interface ObjectGuard {
  hold(o: GuardedObject): void;
  release(o: GuardedObject): void;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The guardian's protocol line for an object ("+instance tw-42-0"). */
export function guardLine(sign: '+' | '-', o: GuardedObject): string {
  const names = o.kind === 'kprobe-event' ? [o.group, o.name] : [o.name];
  for (const n of names) if (!NAME.test(n)) throw new Error(`guardian: '${n}' is not a name the guardian takes`);
  return `${sign}${o.kind === 'kprobe-event' ? 'kprobe' : o.kind} ${names.join(' ')}\n`;
}

/**
 * The script ($1: tracefs root; $2: tw's pid, only so that ps names whose guardian it is). Lists are space-separated names; lines that do not parse are
 * ignored (only tw writes to it). Failures go to the kernel log, the one place someone may look
 * after tw is gone.
 */
export const GUARDIAN_SCRIPT = String.raw`
trap '' INT HUP TERM PIPE QUIT
set -f
root=$1
insts= kps= mods= done=
ok() { case $1 in ''|*[!A-Za-z0-9_.-]*|.*) return 1;; esac; return 0; }
add() { eval "_l=\$$1"; for _x in $_l; do [ "$_x" = "$2" ] && return; done; eval "$1=\"\$_l $2\""; }
del() { eval "_l=\$$1"; _o=; for _x in $_l; do [ "$_x" = "$2" ] || _o="$_o $_x"; done; eval "$1=\$_o"; }
say() { echo "tw-guardian[$$]: $*" > /dev/kmsg 2>/dev/null; }
while IFS=' ' read -r op a b; do
  case $op in
    +instance) ok "$a" && add insts "$a";;
    -instance) del insts "$a";;
    +kprobe) ok "$a" && ok "$b" && add kps "$a/$b";;
    -kprobe) del kps "$a/$b";;
    +module) ok "$a" && add mods "$a";;
    -module) del mods "$a";;
    done) done=1;;
  esac
  [ -n "$done" ] && [ -z "$insts$kps$mods" ] && exit 0
done
[ -z "$insts$kps$mods" ] && exit 0
retry() { _n=0; while ! "$@" 2>/dev/null; do _n=$((_n+1)); [ $_n -ge 100 ] && return 1; sleep 0.02; done; }
rmi() { [ -d "$root/instances/$1" ] || return 0; echo 0 > "$root/instances/$1/tracing_on"; echo 0 > "$root/instances/$1/events/enable"; rmdir "$root/instances/$1"; }
for i in $insts; do
  retry rmi "$i" || say "could not remove the tracefs instance $i"
done
rmk() { grep -q "^[pr][0-9]*:$1 " "$root/kprobe_events" || return 0; echo "-:$1" >> "$root/kprobe_events"; }
for k in $kps; do
  echo 0 > "$root/events/$k/enable" 2>/dev/null
  retry rmk "$k" || say "could not remove the kprobe event $k"
done
rmm() { grep -q "^$1 " /proc/modules || return 0; rmmod "$1"; }
for m in $mods; do
  retry rmm "$m" || say "could not unload the module $m"
done
exit 0
`;

export class Guardian implements ObjectGuard {
  private readonly child: ChildProcess;
  private fd = -1;
  private dead = false;
  private finished = false;
  /** what the guardian holds now (kept to say what is left, and to resend nothing twice) */
  private readonly held = new Set<string>();

  /** Start a guardian for `root` (a tracefs mount point); `onProblem` hears once if it cannot run. */
  constructor(
    readonly root: string,
    private readonly onProblem: (message: string) => void = () => undefined,
  ) {
    this.child = spawn('/bin/sh', ['-c', GUARDIAN_SCRIPT, 'tw-guardian', root, String(process.pid)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    this.child.on('error', (e) => this.fail(`could not start it: ${e.message}`));
    this.child.on('exit', () => {
      if (!this.finished) this.fail('it exited early');
      this.dead = true;
    });
    const stdin = this.child.stdin as (NodeJS.WritableStream & { unref?: () => void; _handle?: { fd?: number } }) | null;
    stdin?.on('error', () => this.fail('its socket broke'));
    // written to synchronously (see writeLine): the stream object is never written through
    this.fd = typeof stdin?._handle?.fd === 'number' ? stdin._handle.fd : -1;
    // the guardian must never keep tw running
    stdin?.unref?.();
    this.child.unref();
  }

  /** The guardian's pid (undefined when it could not be started). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Is it there to clean up after tw? */
  get alive(): boolean {
    return !this.dead && !this.finished && this.child.pid !== undefined;
  }

  hold(o: GuardedObject): void {
    const line = guardLine('+', o);
    this.held.add(line.slice(1));
    this.writeLine(line);
  }

  release(o: GuardedObject): void {
    const line = guardLine('-', o);
    this.held.delete(line.slice(1));
    this.writeLine(line);
  }

  /**
   * tw is done: the guardian exits now if it holds nothing, else once tw has gone (removing
   * what is still held). Nothing more can be held after this.
   */
  done(): void {
    if (this.finished) return;
    this.writeLine('done\n');
    this.finished = true;
  }

  /** What it holds now, as protocol lines without the sign ("instance tw-42-0"). */
  holding(): string[] {
    return [...this.held].map((l) => l.trim());
  }

  private writeLine(line: string): void {
    if (this.dead || this.fd < 0) return;
    const buf = Buffer.from(line);
    try {
      let off = 0;
      // a line is a few dozen bytes into an empty socket buffer: this does not wait
      while (off < buf.length) off += writeSync(this.fd, buf, off);
    } catch (e) {
      this.fail(`its socket broke (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.dead = true;
    if (!this.finished) this.onProblem(`the guardian that cleans up after a killed tw is not running: ${why}; a kill -9 now leaves tw's tracefs instance to the next run`);
  }
}

let current: Guardian | undefined;
let problems: (message: string) => void = () => undefined;

/** Where the process guardian's problems are said (the CLI: one stderr line). */
export function onGuardianProblem(f: (message: string) => void): void {
  problems = f;
}

/**
 * The guardian of this process for tracefs at `root`, started on first use (and again after
 * done() or its death). Start it early: it is a fork and exec that need not be waited for.
 */
export function processGuardian(root: string): Guardian {
  if (current === undefined || !current.alive || current.root !== root) current = new Guardian(root, (m) => problems(m));
  return current;
}

/**
 * The process guardian as an ObjectGuard for tracefs at `root` (started on first hold): what
 * kprobe-gen's backends are given for a session's kprobe events and modules. A release goes to
 * the guardian that holds the object, also after done().
 */
export function processGuard(root: string): ObjectGuard {
  let holder: Guardian | undefined;
  return {
    hold: (o) => {
      holder = processGuardian(root);
      holder.hold(o);
    },
    release: (o) => holder?.release(o),
  };
}

/** The running process guardian, if one was started (for done() at the end). */
export function runningGuardian(): Guardian | undefined {
  return current?.alive === true ? current : undefined;
}
