// The JS-visible reader object: one tracefs instance, a set of CPUs, one backend, one
// thread per CPU, one thread-safe function carrying whole sub-buffers to the JS thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pool.h"
#include "sys.h"
#include "sources.h"

namespace twrn {

/** Most pool slots one delivery carries (and the size of the JS-visible slot arrays). */
constexpr size_t kMaxBatch = 64;

/**
 * What crosses from a reader thread to JS: the pool slots of a reader round's sub-buffers
 * (up to kMaxBatch, in order), or one final-drain copy, and — at the end of a round that
 * caught up with the kernel's writer — the CLOCK_MONOTONIC time (ns) just before the read that
 * found nothing more: every event this CPU recorded before it has now been handed over. Or an
 * error.
 */
struct Delivery {
  uint32_t cpu_index = 0;
  std::vector<int32_t> slots;        // pool slots, in the order they were read
  std::unique_ptr<uint8_t[]> extra;  // a final-drain sub-buffer that did not fit the pool
  double drained_ns = -1;            // the round caught up at this time (-1: not a round's end)
  bool is_error = false;
  std::string message, code, syscall, path;
  int err = 0;
};

/** A CPU reader's own counters (the pool counts its waits), read by stats() on the JS thread. */
struct RoundCounters {
  std::atomic<uint64_t> rounds{0};     // rounds that read at least one sub-buffer
  std::atomic<uint64_t> max_round{0};  // most sub-buffers one round read
};

class NativeReader : public Napi::ObjectWrap<NativeReader> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit NativeReader(const Napi::CallbackInfo& info);
  ~NativeReader() override;

  static void CallJs(Napi::Env env, Napi::Function on_data, NativeReader* self, Delivery* d);

 private:
  using Tsfn = Napi::TypedThreadSafeFunction<NativeReader, Delivery, &NativeReader::CallJs>;
  enum class State { Idle, Running, Stopping, Done };

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value ReleaseMany(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  void ThreadMain(size_t index);
  void Post(Delivery* d);
  void ReleaseAll(Delivery* d);
  void PostError(size_t index, const std::exception& e, const SysError* se);
  void SignalStop();
  void JoinThreads();
  void CloseSources();
  static void Finalize(Napi::Env env, void* unused, NativeReader* self);
  static void EnvCleanup(void* arg);

  std::string backend_;
  size_t subbuf_size_ = 0;
  int latency_ms_ = 50;
  bool realtime_ = false;  // reader threads ask for SCHED_FIFO 1
  std::vector<uint32_t> cpus_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::unique_ptr<Pool>> pools_;
  std::unique_ptr<RoundCounters[]> counters_;  // one per CPU
  std::vector<std::thread> threads_;
  int control_fd_ = -1;  // eventfd: written once by stop(), readable for every thread from then on
  std::atomic<bool> stop_{false};
  std::atomic<bool> abort_{false};
  State state_ = State::Idle;
  bool hook_added_ = false;
  bool env_gone_ = false;
  napi_env env_ = nullptr;
  Tsfn tsfn_;
  // JS-visible, touched on the JS thread only: CallJs writes a delivery's slots into the
  // first kMaxBatch int32s, JS writes the slots it gives back into the next kMaxBatch before
  // releaseMany(cpuIndex, count)
  std::shared_ptr<PoolMemory> slot_lists_;
  int32_t* batch_ = nullptr;
  int32_t* released_ = nullptr;
  Napi::FunctionReference on_error_;
  Napi::FunctionReference on_done_;
};

}  // namespace twrn
