#include "bpf-probe.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bpf-error.h"
#include "sys.h"
#include "threads.h"

namespace twrn {

namespace {

/** u64 ts, u32 cpu, u32 len: what every record starts with. */
constexpr size_t kRecordHead = 16;
constexpr size_t kMinBatch = 4096;
constexpr size_t kMaxBatch = size_t{16} << 20;
constexpr size_t kMaxPool = 4096;
constexpr size_t kMaxPoolBytes = size_t{1} << 30;
constexpr int kMaxLatencyMs = 60000;
/**
 * Records taken in one ring_buffer__consume() before it is made to return (a callback's
 * negative return; the record it was called with is already consumed), so that under a
 * steady stream the thread still looks at the clock, the stop flag and its batch's age.
 */
constexpr size_t kYieldEvery = 1024;
constexpr int kYield = -ECANCELED;

double mono_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

[[noreturn]] void type_error(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void range_error(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

bool is_uint(double v) { return v >= 0 && v == static_cast<double>(static_cast<uint64_t>(v)) && v < 9.0e15; }

double uint_field(Napi::Env env, const Napi::Object& o, const char* key, double lo, double hi) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!is_uint(d) || d < lo || d > hi)
    range_error(env, std::string("relay-native: BPF probe option ") + key + " must be an integer from " + std::to_string(static_cast<uint64_t>(lo)) + " to " +
                         std::to_string(static_cast<uint64_t>(hi)));
  return d;
}

Napi::Error to_js_error(Napi::Env env, const BpfError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code));
  if (e.err) err.Set("errno", Napi::Number::New(env, -e.err));
  if (!e.program.empty()) err.Set("program", Napi::String::New(env, e.program));
  if (!e.section.empty()) err.Set("section", Napi::String::New(env, e.section));
  if (!e.verifier.empty()) {
    Napi::Array lines = Napi::Array::New(env, e.verifier.size());
    for (size_t i = 0; i < e.verifier.size(); i++) lines.Set(static_cast<uint32_t>(i), Napi::String::New(env, e.verifier[i]));
    err.Set("verifierLog", lines);
  }
  return err;
}

/** { name: number | bigint | string | boolean } → parameters (names checked again here). */
std::vector<Param> read_params(Napi::Env env, Napi::Value v) {
  std::vector<Param> out;
  if (v.IsUndefined()) return out;
  if (!v.IsObject() || v.IsArray()) type_error(env, "relay-native: BPF probe option params must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    Param p;
    p.name = keys.Get(i).ToString().Utf8Value();
    bool ok = !p.name.empty() && p.name.size() <= 64 && !(p.name[0] >= '0' && p.name[0] <= '9');
    for (char c : p.name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
    if (!ok) type_error(env, "relay-native: BPF parameter name '" + p.name + "' is not a C identifier");
    Napi::Value val = o.Get(p.name);
    if (val.IsBoolean()) {
      p.value.kind = ParamValue::Kind::Boolean;
      p.value.boolean = val.As<Napi::Boolean>().Value();
    } else if (val.IsString()) {
      p.value.kind = ParamValue::Kind::String;
      p.value.string = val.As<Napi::String>().Utf8Value();
    } else if (val.IsNumber()) {
      const double d = val.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > 9007199254740991.0)
        range_error(env, "relay-native: BPF parameter '" + p.name + "' must be a safe integer (use a bigint beyond 2^53)");
      p.value.negative = d < 0;
      p.value.magnitude = static_cast<uint64_t>(std::fabs(d));
    } else if (val.IsBigInt()) {
      bool lossless = false;
      const uint64_t u = val.As<Napi::BigInt>().Uint64Value(&lossless);
      if (lossless) {
        p.value.magnitude = u;
      } else {
        const int64_t s = val.As<Napi::BigInt>().Int64Value(&lossless);
        if (!lossless || s >= 0) range_error(env, "relay-native: BPF parameter '" + p.name + "' does not fit 64 bits");
        p.value.negative = true;
        p.value.magnitude = ~static_cast<uint64_t>(s) + 1;
      }
    } else {
      type_error(env, "relay-native: BPF parameter '" + p.name + "' must be a number, bigint, string or boolean");
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

Napi::Function BpfProbe::Init(Napi::Env env) {
  return DefineClass(env, "BpfProbe",
                     {
                         InstanceMethod<&BpfProbe::Start>("start"),
                         InstanceMethod<&BpfProbe::Stop>("stop"),
                         InstanceMethod<&BpfProbe::Release>("release"),
                         InstanceMethod<&BpfProbe::Lost>("lost"),
                         InstanceMethod<&BpfProbe::Stats>("stats"),
                         InstanceMethod<&BpfProbe::SetParams>("setParams"),
                     });
}

// new BpfProbe({ object, params?, poolSize, batchBytes, latencyMs })
// Opens, loads and attaches synchronously (errors are thrown here, with the verifier's last
// lines when it rejected a program), makes the ring buffer reader and the pool, and exposes
// `pool` (one ArrayBuffer of poolSize × batchBytes) and `programs` ([{ name, section }]).
BpfProbe::BpfProbe(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfProbe>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  if (info.Length() < 1 || !info[0].IsObject()) type_error(env, "relay-native: BpfProbe needs an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value obj = o.Get("object");
  if (!obj.IsString()) type_error(env, "relay-native: BPF probe option object must be the path of a BPF object file");
  path_ = obj.As<Napi::String>().Utf8Value();
  if (path_.empty() || path_[0] != '/' || path_.find('\0') != std::string::npos)
    type_error(env, "relay-native: BPF probe option object must be an absolute path, got '" + path_ + "'");
  std::vector<Param> params = read_params(env, o.Get("params"));
  const size_t pool_size = static_cast<size_t>(uint_field(env, o, "poolSize", 1, kMaxPool));
  batch_bytes_ = static_cast<size_t>(uint_field(env, o, "batchBytes", kMinBatch, kMaxBatch));
  if (batch_bytes_ % 8 != 0) range_error(env, "relay-native: BPF probe option batchBytes must be a multiple of 8");
  if (pool_size * batch_bytes_ > kMaxPoolBytes) range_error(env, "relay-native: poolSize × batchBytes exceeds 1 GiB");
  latency_ms_ = static_cast<int>(uint_field(env, o, "latencyMs", 1, kMaxLatencyMs));

  try {
    object_ = std::make_unique<BpfObject>(path_, params);
    ring_ = ring_buffer__new(object_->events_fd(), &BpfProbe::OnSample, this, nullptr);
    if (ring_ == nullptr) {
      const int err = errno;
      throw BpfError("BPF_RINGBUF", "BPF object " + path_ + ": cannot map its ring buffer tw_events: " + std::strerror(err) + " (" + errno_name(err) + ")", err);
    }
    pool_ = std::make_unique<Pool>(pool_size, batch_bytes_);
    control_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (control_fd_ < 0) {
      const int err = errno;
      throw BpfError("BPF_RINGBUF", std::string("relay-native: eventfd: ") + std::strerror(err), err);
    }
  } catch (const BpfError& e) {
    CloseAll();
    throw to_js_error(env, e);
  } catch (const std::bad_alloc&) {
    CloseAll();
    throw Napi::Error::New(env, "relay-native: out of memory setting up the BPF probe");
  }

  Napi::Object self = info.This().As<Napi::Object>();
  auto* keep = new std::shared_ptr<PoolMemory>(pool_->memory());
  self.Set("pool", Napi::ArrayBuffer::New(
                       env, (*keep)->data(), (*keep)->bytes(), [](Napi::Env, void*, std::shared_ptr<PoolMemory>* hint) { delete hint; }, keep));
  const auto& progs = object_->programs();
  Napi::Array js_progs = Napi::Array::New(env, progs.size());
  for (size_t i = 0; i < progs.size(); i++) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", Napi::String::New(env, progs[i].name));
    p.Set("section", Napi::String::New(env, progs[i].section));
    js_progs.Set(static_cast<uint32_t>(i), p);
  }
  self.Set("programs", js_progs);
  // attached from now on: an environment torn down before stop() must still detach
  AddCleanupHook();
}

BpfProbe::~BpfProbe() {
  abort_ = true;
  SignalStop();
  JoinThread();
  RemoveCleanupHook();
  CloseAll();
}

void BpfProbe::AddCleanupHook() {
  if (hook_added_ || env_gone_) return;
  napi_add_env_cleanup_hook(env_, EnvCleanup, this);
  hook_added_ = true;
}

void BpfProbe::RemoveCleanupHook() {
  if (hook_added_ && !env_gone_) napi_remove_env_cleanup_hook(env_, EnvCleanup, this);
  hook_added_ = false;
}

// start(onBatch(slot, bytes, records, extra?), onError(err), onDone(), onRound?(drainedNs))
// onBatch's data is bytes [slot × batchBytes, + bytes) of `pool`, or `extra` when slot is -1.
// With onRound the thread also wakes on a grid of `latencyMs` on the monotonic clock and,
// when a consume there found nothing more, hands over its batch and then calls onRound.
Napi::Value BpfProbe::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Idle || !object_) throw Napi::Error::New(env, "relay-native: the BPF probe was already started or stopped");
  if (info.Length() < 3 || !info[0].IsFunction() || !info[1].IsFunction() || !info[2].IsFunction())
    type_error(env, "relay-native: start(onBatch, onError, onDone, onRound?) needs three functions");
  if (info.Length() >= 4 && !info[3].IsUndefined() && !info[3].IsFunction()) type_error(env, "relay-native: start(): onRound must be a function");
  on_error_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_done_ = Napi::Persistent(info[2].As<Napi::Function>());
  rounds_ = info.Length() >= 4 && info[3].IsFunction();
  if (rounds_) on_round_ = Napi::Persistent(info[3].As<Napi::Function>());
  tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), "tw-relay-native-bpf", 0, 1, this, &BpfProbe::Finalize, static_cast<void*>(nullptr));
  // hooks run last-added-first: re-added after the thread-safe function, ours runs before its teardown
  RemoveCleanupHook();
  AddCleanupHook();
  Ref();  // the JS object lives while its thread does
  state_ = State::Running;
  try {
    with_signals_blocked([&] { thread_ = std::thread(&BpfProbe::ThreadMain, this); });
  } catch (const std::exception& e) {
    tsfn_.Release();
    throw Napi::Error::New(env, std::string("relay-native: cannot start the BPF reader thread: ") + e.what());
  }
  return env.Undefined();
}

// stop(): the thread detaches every program (no new records), drains the ring buffer,
// hands the rest over and exits; onDone runs on the JS thread after the last batch, with the
// object closed. A probe that was never started is closed at once.
Napi::Value BpfProbe::Stop(const Napi::CallbackInfo& info) {
  if (state_ == State::Running) {
    state_ = State::Stopping;
    SignalStop();  // the reader thread detaches: that waits for the kernel (tens of ms), not for JS
  } else if (state_ == State::Idle) {
    state_ = State::Done;
    RemoveCleanupHook();
    CloseAll();
  }
  return info.Env().Undefined();
}

// release(slot): JS is done with that batch.
Napi::Value BpfProbe::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) type_error(env, "relay-native: release(slot)");
  const double slot = info[0].As<Napi::Number>().DoubleValue();
  if (!is_uint(slot) || !pool_ || slot >= pool_->slots()) range_error(env, "relay-native: release: bad slot");
  return Napi::Boolean::New(env, pool_->release(static_cast<int>(slot)));
}

// lost(): tw_lost per possible CPU (records the programs could not reserve room for); after
// stop(), the values read just before the object was closed.
Napi::Value BpfProbe::Lost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<uint64_t> v;
  if (object_) {
    try {
      v = object_->lost_per_cpu();
    } catch (const BpfError& e) {
      throw to_js_error(env, e);
    }
  } else {
    v = final_lost_;
  }
  Napi::Array out = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
  return out;
}

// setParams({ name: value }): change live parameters of the loaded programs
Napi::Value BpfProbe::SetParams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Param> params = read_params(env, info[0]);
  if (!object_) throw Napi::Error::New(env, "relay-native: BPF probe " + path_ + " is closed");
  try {
    object_->update_params(params);
  } catch (const BpfError& e) {
    throw to_js_error(env, e);
  }
  return env.Undefined();
}

// stats(): { records, batches, bytes, malformed, poolWaits, poolWaitNs, wakeups }
Napi::Value BpfProbe::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  o.Set("records", num(records_.load(std::memory_order_relaxed)));
  o.Set("batches", num(batches_.load(std::memory_order_relaxed)));
  o.Set("bytes", num(bytes_.load(std::memory_order_relaxed)));
  o.Set("malformed", num(malformed_.load(std::memory_order_relaxed)));
  o.Set("poolWaits", num(pool_ ? pool_->waits() : 0));
  o.Set("poolWaitNs", num(pool_ ? pool_->wait_ns() : 0));
  o.Set("wakeups", num(wakeups_.load(std::memory_order_relaxed)));
  return o;
}

void BpfProbe::SignalStop() {
  stop_ = true;
  if (control_fd_ >= 0) {
    const uint64_t one = 1;
    ssize_t n;
    do n = ::write(control_fd_, &one, sizeof one);
    while (n < 0 && errno == EINTR);
  }
  if (pool_) pool_->wake();
}

void BpfProbe::JoinThread() {
  if (thread_.joinable()) thread_.join();
}

void BpfProbe::CloseAll() {
  if (ring_ != nullptr) ring_buffer__free(ring_);
  ring_ = nullptr;
  if (object_) {
    try {
      final_lost_ = object_->lost_per_cpu();
    } catch (const BpfError&) {
    }
    object_.reset();  // links destroyed, programs and maps closed: nothing of ours stays in the kernel
  }
  if (control_fd_ >= 0) ::close(control_fd_);
  control_fd_ = -1;
}

void BpfProbe::Post(BpfDelivery* d) {
  if (abort_ || tsfn_.NonBlockingCall(d) != napi_ok) {
    if (d->slot >= 0) pool_->release(d->slot);
    delete d;
  }
}

void BpfProbe::PostError(const std::string& message, const std::string& code, int err) {
  auto* d = new BpfDelivery();
  d->is_error = true;
  d->message = message;
  d->code = code;
  d->err = err;
  Post(d);
}

bool BpfProbe::OpenBatch() {
  int slot = pool_->try_acquire();
  // every slot is out: wait for JS to give one back (back-pressure, counted by the pool).
  // Meanwhile the ring buffer fills; when it is full the programs count what they drop in tw_lost.
  if (slot == Pool::kNone) slot = pool_->acquire(abort_, stop_);
  if (slot == Pool::kAborted) return false;
  if (slot == Pool::kUseExtra) {
    // stopping with the whole pool held: the final drain must not wait for a consumer that
    // may release only after stop() resolves (bounded by the ring buffer's size)
    cur_extra_.reset(new uint8_t[batch_bytes_]);
    cur_ = cur_extra_.get();
    cur_slot_ = -1;
  } else {
    cur_slot_ = slot;
    cur_ = pool_->slot(slot);
  }
  cur_used_ = 0;
  cur_records_ = 0;
  cur_started_ns_ = mono_ns();
  return true;
}

// Hand over the batch being filled; with `drained_ns` >= 0 the delivery also reports a round
// (and is made, without a batch, when none is open).
void BpfProbe::Flush(double drained_ns) {
  if (cur_ == nullptr) {
    if (drained_ns < 0) return;
    auto* d = new BpfDelivery();
    d->drained_ns = drained_ns;
    Post(d);
    return;
  }
  auto* d = new BpfDelivery();
  d->drained_ns = drained_ns;
  d->slot = cur_slot_;
  d->extra = std::move(cur_extra_);
  d->bytes = static_cast<uint32_t>(cur_used_);
  d->records = cur_records_;
  cur_ = nullptr;
  cur_slot_ = -1;
  batches_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(d->bytes, std::memory_order_relaxed);
  Post(d);
}

int BpfProbe::OnSample(void* ctx, void* data, size_t size) {
  return static_cast<BpfProbe*>(ctx)->Append(static_cast<const uint8_t*>(data), size);
}

// One ring buffer record, on the reader thread: check its framing, copy it into the batch.
int BpfProbe::Append(const uint8_t* data, size_t size) {
  if (abort_) {
    yielded_ = true;
    return kYield;
  }
  uint32_t len = 0;
  if (size >= kRecordHead) std::memcpy(&len, data + 12, sizeof len);
  if (size < kRecordHead || len > size - kRecordHead) {
    malformed_.fetch_add(1, std::memory_order_relaxed);  // not the contract's layout: dropped, counted
    return 0;
  }
  const size_t rec = kRecordHead + len;
  const size_t padded = (rec + 7) & ~size_t{7};
  if (cur_ != nullptr && cur_used_ + padded > batch_bytes_) Flush();
  if (padded > batch_bytes_) {
    // bigger than a batch: a batch of its own, copied
    auto* d = new BpfDelivery();
    d->extra.reset(new uint8_t[padded]);
    std::memcpy(d->extra.get(), data, rec);
    std::memset(d->extra.get() + rec, 0, padded - rec);
    d->bytes = static_cast<uint32_t>(padded);
    d->records = 1;
    batches_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(padded, std::memory_order_relaxed);
    Post(d);
  } else {
    if (cur_ == nullptr && !OpenBatch()) {
      yielded_ = true;
      return kYield;
    }
    std::memcpy(cur_ + cur_used_, data, rec);
    std::memset(cur_ + cur_used_ + rec, 0, padded - rec);
    cur_used_ += padded;
    cur_records_++;
    if (batch_bytes_ - cur_used_ < kRecordHead) Flush();
  }
  records_.fetch_add(1, std::memory_order_relaxed);
  if (stop_.load(std::memory_order_relaxed)) drained_after_stop_ += padded;
  if (++since_yield_ >= kYieldEvery) {
    yielded_ = true;
    return kYield;
  }
  return 0;
}

// Consume what the ring buffer holds, hand over the batch when it is full or `latencyMs`
// old, then sleep in poll() on {the ring buffer's epoll fd, the stop eventfd}: with a batch
// open, at most until it is due; with none, at most `latencyMs`. tw's programs wake the reader
// only when a quarter of the ring is unread (BPF_RB_NO_WAKEUP otherwise), so records can wait
// in the ring without a wake-up: the timer takes them within `latencyMs`.
//
// Rounds (when start() was given onRound): the thread also wakes on a grid of `latencyMs` on
// the monotonic clock (the per-CPU readers' grid, so their deliveries and ours reach JS
// together). A consume at or after a grid point that found nothing more (it did not stop
// early) proves every record committed before the clock was read just before it has been
// taken: the batch is handed over with that time, `drainedNs`, then onRound is called. The
// ring buffer is shared by all CPUs, so the round covers all of them at once. A record
// reserved before that time but committed after it (its program was still writing) comes
// later: consumers allow a margin, as for the per-CPU readers.
void BpfProbe::ThreadMain() {
  pthread_setname_np(pthread_self(), "tw-rn-bpf");
  const double latency_ns = static_cast<double>(latency_ms_) * 1e6;
  const uint64_t drain_limit = 2 * static_cast<uint64_t>(object_->events_bytes());
  const int epoll_fd = ring_buffer__epoll_fd(ring_);
  // the first grid point after `t` (ns), in ns
  const auto next_grid = [&](double t) {
    const int64_t ms = static_cast<int64_t>(t / 1e6);
    return static_cast<double>(ms - ms % latency_ms_ + latency_ms_) * 1e6;
  };
  double next_round_ns = rounds_ ? next_grid(mono_ns()) : INFINITY;
  bool detached = false;
  try {
    for (;;) {
      if (abort_) break;
      const bool stopping = stop_.load();
      if (stopping && !detached) {
        // destroying a tracepoint link waits for the kernel to be done with the program
        // (an RCU grace period: tens of ms), here rather than on the JS thread
        object_->detach();
        detached = true;
      }
      yielded_ = false;
      since_yield_ = 0;
      const double before = mono_ns();
      const int n = ring_buffer__consume(ring_);
      if (abort_) break;
      if (n < 0 && !yielded_)
        throw BpfError("BPF_RINGBUF", "cannot read the ring buffer tw_events of " + path_ + ": " + std::strerror(-n) + " (" + errno_name(-n) + ")", -n);
      const double now = mono_ns();
      if (!stopping && !yielded_ && now >= next_round_ns) {
        // caught up at a grid point: the batch (if any) and the round, in one delivery
        Flush(before);
        next_round_ns = next_grid(now);
      } else if (cur_ != nullptr && (stopping || now - cur_started_ns_ >= latency_ns)) {
        Flush();
      }
      if (stopping) {
        // the programs are detached: the ring buffer only holds what they wrote before
        if (!yielded_ || drained_after_stop_ > drain_limit) break;
        continue;
      }
      if (yielded_) continue;
      int timeout = latency_ms_;
      if (cur_ != nullptr) timeout = std::max(0, static_cast<int>(std::ceil((cur_started_ns_ + latency_ns - now) / 1e6)));
      if (rounds_) {
        const int to_grid = std::max(0, static_cast<int>(std::ceil((next_round_ns - now) / 1e6)));
        timeout = std::min(timeout, to_grid);
      }
      struct pollfd fds[2] = {{epoll_fd, POLLIN, 0}, {control_fd_, POLLIN, 0}};
      const int rv = ::poll(fds, 2, timeout);
      if (rv < 0 && errno != EINTR) {
        const int err = errno;
        throw BpfError("BPF_RINGBUF", "poll failed on the ring buffer of " + path_ + ": " + std::strerror(err), err);
      }
      wakeups_.fetch_add(1, std::memory_order_relaxed);
    }
    if (cur_ != nullptr) {
      if (abort_) {
        if (cur_slot_ >= 0) pool_->release(cur_slot_);
        cur_ = nullptr;
        cur_extra_.reset();
      } else {
        Flush();
      }
    }
  } catch (const BpfError& e) {
    PostError(e.what(), e.code, e.err);
  } catch (const std::bad_alloc&) {
    PostError("relay-native: out of memory in the BPF reader", "BPF_RINGBUF", ENOMEM);
  } catch (const std::exception& e) {
    PostError(e.what(), "BPF_RINGBUF", 0);
  }
  tsfn_.Release();  // the last thing this thread does with the thread-safe function
}

// On the JS thread, once per delivery. env is null when the function is being torn down.
void BpfProbe::CallJs(Napi::Env env, Napi::Function on_batch, BpfProbe* self, BpfDelivery* d) {
  std::unique_ptr<BpfDelivery> owned(d);
  if (env == nullptr || self->abort_) {
    if (d->slot >= 0) self->pool_->release(d->slot);
    return;
  }
  try {
    if (d->is_error) {
      Napi::Error err = Napi::Error::New(env, d->message);
      err.Set("code", Napi::String::New(env, d->code));
      if (d->err) err.Set("errno", Napi::Number::New(env, -d->err));
      self->on_error_.Call({err.Value()});
    } else {
      if (d->extra) {
        Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, d->bytes);
        std::memcpy(ab.Data(), d->extra.get(), d->bytes);
        on_batch.Call({Napi::Number::New(env, -1), Napi::Number::New(env, d->bytes), Napi::Number::New(env, d->records), ab});
      } else if (d->slot >= 0) {
        on_batch.Call({Napi::Number::New(env, d->slot), Napi::Number::New(env, d->bytes), Napi::Number::New(env, d->records)});
      }
      // after the batch: every record committed before drained_ns has been handed over
      if (d->drained_ns >= 0 && !self->on_round_.IsEmpty()) self->on_round_.Call({Napi::Number::New(env, d->drained_ns)});
    }
  } catch (const Napi::Error&) {
    // the TS wrapper catches its callbacks' exceptions; this is only reached when JS cannot run any more
  }
}

// On the JS thread, after the thread released the function and every delivery ran.
void BpfProbe::Finalize(Napi::Env, void*, BpfProbe* self) {
  self->JoinThread();
  self->RemoveCleanupHook();
  self->CloseAll();
  self->state_ = State::Done;
  if (!self->env_gone_) {
    try {
      self->on_done_.Call({});
    } catch (const Napi::Error&) {
    }
  }
  self->on_error_.Reset();
  self->on_done_.Reset();
  self->on_round_.Reset();
  if (!self->env_gone_) {
    try {
      self->Unref();
    } catch (const Napi::Error&) {
    }
  }
}

// The environment is going away (worker terminated, process exiting) with the probe open:
// stop the thread without delivering anything, detach and close.
void BpfProbe::EnvCleanup(void* arg) {
  auto* self = static_cast<BpfProbe*>(arg);
  self->hook_added_ = false;
  self->env_gone_ = true;
  self->abort_ = true;
  self->SignalStop();
  self->JoinThread();
  self->CloseAll();
}

}  // namespace twrn
