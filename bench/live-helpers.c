/*
 * Helpers for bench/live.sh and bench/bpf.sh (compiled by them into a temporary directory):
 *
 *   live-helpers storm RATE SECONDS [unlinkat PATH]
 *       getppid() RATE times a second (0 = as fast as possible) for SECONDS, on whatever
 *       CPU it runs on (live.sh pins it with taskset). The calls due are worked out every
 *       1 ms tick from the elapsed time, so a late tick is caught up. Prints
 *       "calls=N seconds=S".
 *       With "unlinkat PATH" (bench/bpf.sh) each call is unlinkat(AT_FDCWD, PATH, 0) instead,
 *       PATH being a path that does not exist: every call fails with ENOENT and is still one
 *       hit of syscalls/sys_enter_unlinkat. PATH must not exist before the storm (bpf.sh puts
 *       it under a directory that is never made), and a call that does not fail with ENOENT
 *       ends the storm with exit status 1.
 *
 *   live-helpers splice OUT SUBBUF_BYTES TIMEOUT_MS FILE...
 *       The floor a trace-cmd-record-style recorder costs: one process per FILE (a
 *       per_cpu/cpuN/trace_pipe_raw), each moving whole sub-buffers to OUT (/dev/null) with
 *       splice() through a pipe, as trace-cmd's recorder does; nothing is decoded. Waits with
 *       poll() (woken by the kernel at buffer_percent, or after TIMEOUT_MS). On SIGTERM or
 *       SIGINT each child drains its CPU (splice until EAGAIN, then read() for the partial
 *       last sub-buffer, as trace-cmd's final flush does) and exits; the parent waits for them.
 *       Prints "ready PID..." (the children) once they are running.
 *
 *   live-helpers cpurun OUT CMD [ARG...]
 *       Runs CMD, writes its pid to OUT.pid as soon as it is started, and, when it has exited,
 *       "user_us sys_us exit_status" (its rusage, descendants it waited for included) to OUT.
 *       SIGTERM and SIGHUP are passed on to CMD; SIGINT is ignored (signal CMD itself).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* the storm's syscall: getppid(), or unlinkat(AT_FDCWD, unlink_path, 0) when a path is set */
static const char *unlink_path = NULL;
static int unlink_unexpected = 0;

static void storm_call(void) {
  if (unlink_path == NULL) {
    syscall(SYS_getppid);
  } else if (syscall(SYS_unlinkat, AT_FDCWD, unlink_path, 0) == 0 || errno != ENOENT) {
    unlink_unexpected = 1;
  }
}

static int storm(int argc, char **argv) {
  if (argc != 2 && !(argc == 4 && strcmp(argv[2], "unlinkat") == 0)) return 2;
  uint64_t rate = strtoull(argv[0], NULL, 10);
  double secs = atof(argv[1]);
  if (argc == 4) {
    struct stat st;
    unlink_path = argv[3];
    if (lstat(unlink_path, &st) == 0 || errno != ENOENT) {
      fprintf(stderr, "storm: %s must be a path that does not exist\n", unlink_path);
      return 1;
    }
  }
  uint64_t start = now_ns();
  uint64_t end = start + (uint64_t)(secs * 1e9);
  uint64_t done = 0, t;
  if (rate == 0) {
    while (now_ns() < end && !unlink_unexpected) {
      for (int i = 0; i < 256; i++) storm_call();
      done += 256;
    }
  } else {
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while ((t = now_ns()) < end && !unlink_unexpected) {
      uint64_t due = (uint64_t)((double)rate * (double)(t - start) / 1e9);
      while (done < due) {
        uint64_t n = due - done;
        if (n > 256) n = 256;
        for (uint64_t i = 0; i < n; i++) storm_call();
        done += n;
        if (now_ns() >= end) break;
      }
      next.tv_nsec += 1000000;
      if (next.tv_nsec >= 1000000000) {
        next.tv_nsec -= 1000000000;
        next.tv_sec++;
      }
      /* behind by more than a tick: do not sleep, catch up */
      if ((uint64_t)next.tv_sec * 1000000000ull + (uint64_t)next.tv_nsec > now_ns())
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
      else
        clock_gettime(CLOCK_MONOTONIC, &next);
    }
  }
  printf("calls=%llu seconds=%.3f\n", (unsigned long long)done, (double)(now_ns() - start) / 1e9);
  if (unlink_unexpected) {
    fprintf(stderr, "storm: unlinkat(%s) did not fail with ENOENT; stopped\n", unlink_path);
    return 1;
  }
  return 0;
}

static volatile sig_atomic_t stopping = 0;
static void on_stop(int sig) {
  (void)sig;
  stopping = 1;
}

static int splice_one(const char *path, int out, size_t subbuf, int timeout_ms) {
  int in = open(path, O_RDONLY | O_NONBLOCK);
  if (in < 0) {
    fprintf(stderr, "splice: open %s: %s\n", path, strerror(errno));
    return 1;
  }
  int p[2];
  if (pipe(p) < 0) {
    perror("splice: pipe");
    return 1;
  }
  long pipe_bytes = fcntl(p[1], F_GETPIPE_SZ);
  size_t chunk = pipe_bytes > 0 ? (size_t)pipe_bytes : 16 * subbuf;
  chunk -= chunk % subbuf;
  if (chunk == 0) chunk = subbuf;
  int final_pass = 0;
  for (;;) {
    ssize_t n = splice(in, NULL, p[1], NULL, chunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      ssize_t left = n;
      while (left > 0) {
        ssize_t w = splice(p[0], NULL, out, NULL, (size_t)left, SPLICE_F_MOVE);
        if (w <= 0) {
          if (w < 0 && errno == EINTR) continue;
          perror("splice: to output");
          return 1;
        }
        left -= w;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      fprintf(stderr, "splice: %s: %s\n", path, strerror(errno));
      return 1;
    }
    /* nothing whole to move */
    if (final_pass) break;
    if (stopping) {
      final_pass = 1;
      continue;
    }
    struct pollfd pf = {.fd = in, .events = POLLIN};
    poll(&pf, 1, timeout_ms);
  }
  /* the partial last sub-buffer: splice moves whole pages only */
  char *buf = malloc(subbuf);
  for (;;) {
    ssize_t n = read(in, buf, subbuf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w <= 0) break;
      off += w;
    }
  }
  free(buf);
  close(in);
  return 0;
}

static int splice_main(int argc, char **argv) {
  if (argc < 4) return 2;
  const char *outpath = argv[0];
  size_t subbuf = (size_t)strtoul(argv[1], NULL, 10);
  int timeout_ms = atoi(argv[2]);
  int nfiles = argc - 3;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop; /* no SA_RESTART: poll() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  pid_t *kids = calloc((size_t)nfiles, sizeof *kids);
  for (int i = 0; i < nfiles; i++) {
    pid_t k = fork();
    if (k < 0) {
      perror("splice: fork");
      return 1;
    }
    if (k == 0) {
      int out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0) {
        fprintf(stderr, "splice: open %s: %s\n", outpath, strerror(errno));
        _exit(1);
      }
      _exit(splice_one(argv[3 + i], out, subbuf, timeout_ms));
    }
    kids[i] = k;
  }
  printf("ready");
  for (int i = 0; i < nfiles; i++) printf(" %d", (int)kids[i]);
  printf("\n");
  fflush(stdout);
  int rc = 0, forwarded = 0;
  for (int left = nfiles; left > 0;) {
    if (stopping && !forwarded) {
      for (int i = 0; i < nfiles; i++) kill(kids[i], SIGTERM);
      forwarded = 1;
    }
    int st;
    pid_t w = waitpid(-1, &st, 0);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
    left--;
  }
  return rc;
}

static volatile pid_t cpurun_child = 0;
static void forward(int sig) {
  if (cpurun_child > 0) kill(cpurun_child, sig);
}

static int cpurun(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *out = argv[0];
  /* SIGINT: the caller signals the command itself (a terminal's Ctrl-C reaches it anyway);
     SIGTERM and SIGHUP are passed on to it, and we still wait for it */
  signal(SIGINT, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  pid_t k = fork();
  if (k < 0) {
    perror("cpurun: fork");
    return 1;
  }
  if (k == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "cpurun: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  cpurun_child = k;
  char pidfile[4096];
  snprintf(pidfile, sizeof pidfile, "%s.pid", out);
  FILE *f = fopen(pidfile, "w");
  if (f) {
    fprintf(f, "%d\n", (int)k);
    fclose(f);
  }
  int st;
  struct rusage ru;
  while (wait4(k, &st, 0, &ru) < 0)
    if (errno != EINTR) {
      perror("cpurun: wait4");
      return 1;
    }
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  f = fopen(out, "w");
  if (!f) return 1;
  fprintf(f, "%lld %lld %d\n", (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
          (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, code);
  fclose(f);
  return code;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "storm") == 0) return storm(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "splice") == 0) return splice_main(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "cpurun") == 0) return cpurun(argc - 2, argv + 2);
  fprintf(stderr, "usage: %s storm RATE SECONDS [unlinkat PATH] | splice OUT SUBBUF TIMEOUT_MS FILE... | cpurun OUT CMD [ARG...]\n", argv[0]);
  return 2;
}
