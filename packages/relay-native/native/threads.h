// Starting reader threads the same way everywhere: with every signal blocked, so the
// process's signals (SIGINT, SIGCHLD, ...) are always taken by the JS thread.
#pragma once

#include <csignal>
#include <pthread.h>

namespace twrn {

/** Runs `fn` with every signal blocked, so threads it creates never take the process's signals. */
template <typename Fn>
void with_signals_blocked(Fn fn) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    fn();
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace twrn
