// The JS-visible BPF probe: a loaded and attached BpfObject, one reader thread polling its
// `tw_events` ring buffer, and a bounded pool of batch slots carried to JS by one
// thread-safe function — the same path as the per-CPU sub-buffer readers (pool.h).
//
// A batch is one pool slot: consecutive records, each laid out as the program wrote it
// (u64 ts, u32 cpu, u32 len, len bytes) and padded with zeros to a multiple of 8 bytes, so
// every record starts 8-byte aligned. Records are copied out of the ring buffer as they are.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bpf-object.h"
#include "pool.h"

struct ring_buffer;

namespace twrn {

/** A batch (a pool slot, or a final-drain copy) or an error, on its way to the JS thread. */
struct BpfDelivery {
  int32_t slot = -1;                 // pool slot, or -1 for `extra`
  std::unique_ptr<uint8_t[]> extra;  // a batch that found the pool empty while stopping
  uint32_t bytes = 0;
  uint32_t records = 0;
  double drained_ns = -1;  // >= 0: a round's end, reported after this delivery's batch (if any)
  bool is_error = false;
  std::string message, code;
  int err = 0;
};

class BpfProbe : public Napi::ObjectWrap<BpfProbe> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit BpfProbe(const Napi::CallbackInfo& info);
  ~BpfProbe() override;

  static void CallJs(Napi::Env env, Napi::Function on_batch, BpfProbe* self, BpfDelivery* d);

 private:
  using Tsfn = Napi::TypedThreadSafeFunction<BpfProbe, BpfDelivery, &BpfProbe::CallJs>;
  enum class State { Idle, Running, Stopping, Done };

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Lost(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetParams(const Napi::CallbackInfo& info);

  // reader thread
  void ThreadMain();
  static int OnSample(void* ctx, void* data, size_t size);
  int Append(const uint8_t* data, size_t size);
  bool OpenBatch();
  void Flush(double drained_ns = -1);
  void Post(BpfDelivery* d);
  void PostError(const std::string& message, const std::string& code, int err);

  void SignalStop();
  void JoinThread();
  void CloseAll();  // thread joined first: frees the ring buffer, keeps the final lost counts, closes the object
  void AddCleanupHook();
  void RemoveCleanupHook();
  static void Finalize(Napi::Env env, void* unused, BpfProbe* self);
  static void EnvCleanup(void* arg);

  std::string path_;
  std::unique_ptr<BpfObject> object_;
  ring_buffer* ring_ = nullptr;
  std::unique_ptr<Pool> pool_;
  size_t batch_bytes_ = 0;
  int latency_ms_ = 50;
  int control_fd_ = -1;  // eventfd: written once by stop()
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> abort_{false};
  State state_ = State::Idle;
  bool hook_added_ = false;
  bool env_gone_ = false;
  napi_env env_ = nullptr;
  Tsfn tsfn_;
  Napi::FunctionReference on_error_;
  Napi::FunctionReference on_done_;
  Napi::FunctionReference on_round_;
  bool rounds_ = false;  // start() was given onRound: report rounds on the latency grid
  std::vector<uint64_t> final_lost_;  // tw_lost when the object was closed

  // the batch being filled (reader thread only)
  int32_t cur_slot_ = -1;
  std::unique_ptr<uint8_t[]> cur_extra_;
  uint8_t* cur_ = nullptr;
  size_t cur_used_ = 0;
  uint32_t cur_records_ = 0;
  double cur_started_ns_ = 0;
  size_t since_yield_ = 0;
  bool yielded_ = false;
  uint64_t drained_after_stop_ = 0;

  // counters, read by stats() on the JS thread
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint64_t> wakeups_{0};
};

}  // namespace twrn
