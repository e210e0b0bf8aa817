#include "native-reader.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <poll.h>
#include <ctime>
#include <sys/resource.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "subbuf.h"
#include "sys.h"
#include "threads.h"

namespace twrn {

namespace {

constexpr size_t kMinSubbuf = 4096;
constexpr size_t kMaxSubbuf = size_t{1} << 27;  // the commit word keeps 27 bits of length
constexpr size_t kMaxPool = 65536;
constexpr size_t kMaxPoolBytes = size_t{1} << 30;
constexpr int kMaxLatencyMs = 60000;
constexpr int kReaderNiceBoost = 10;  // reader threads run this much less nice (more urgent) than the process
constexpr uint32_t kMaxCpu = 1u << 16;
constexpr size_t kBatch = 16;  // sub-buffers per delivery: a busy round hands over in steps of this

/** CLOCK_MONOTONIC in ns (the clock of the trace clock "mono"). */
double mono_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

[[noreturn]] void type_error(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void range_error(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

double number_field(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) type_error(env, std::string("relay-native: options.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool is_uint(double v) { return v >= 0 && v == static_cast<double>(static_cast<uint64_t>(v)) && v < 9.0e15; }

/** A JS Error carrying the errno details of a SysError, like Node's own fs errors. */
Napi::Error to_js_error(Napi::Env env, const SysError& se) {
  Napi::Error err = Napi::Error::New(env, se.what());
  err.Set("code", Napi::String::New(env, errno_name(se.err)));
  err.Set("errno", Napi::Number::New(env, -se.err));
  err.Set("syscall", Napi::String::New(env, se.syscall));
  err.Set("path", Napi::String::New(env, se.path));
  return err;
}

}  // namespace

Napi::Function NativeReader::Init(Napi::Env env) {
  return DefineClass(env, "NativeReader",
                     {
                         InstanceMethod<&NativeReader::Start>("start"),
                         InstanceMethod<&NativeReader::Stop>("stop"),
                         InstanceMethod<&NativeReader::Release>("release"),
                         InstanceMethod<&NativeReader::ReleaseMany>("releaseMany"),
                         InstanceMethod<&NativeReader::Close>("close"),
                         InstanceMethod<&NativeReader::Stats>("stats"),
                     });
}

// new NativeReader({ instance, cpus, subbufSize, poolSize, latencyMs, backend: 'mmap' | 'read', realtime? })
// Checks its arguments again (the TS wrapper already did), opens and maps every CPU's file
// so that errors surface here, synchronously, and exposes `pools`: one ArrayBuffer per CPU
// holding poolSize slots of subbufSize bytes.
NativeReader::NativeReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeReader>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  if (info.Length() < 1 || !info[0].IsObject()) type_error(env, "relay-native: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();

  Napi::Value inst = o.Get("instance");
  if (!inst.IsString()) type_error(env, "relay-native: options.instance must be a string");
  std::string instance = inst.As<Napi::String>().Utf8Value();
  if (instance.empty() || instance[0] != '/' || instance.find('\0') != std::string::npos)
    type_error(env, "relay-native: options.instance must be an absolute path, got '" + instance + "'");
  while (instance.size() > 1 && instance.back() == '/') instance.pop_back();

  Napi::Value cpus = o.Get("cpus");
  if (!cpus.IsArray()) type_error(env, "relay-native: options.cpus must be an array of CPU numbers");
  Napi::Array arr = cpus.As<Napi::Array>();
  if (arr.Length() == 0) range_error(env, "relay-native: options.cpus is empty");
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!is_uint(d) || d >= kMaxCpu) range_error(env, "relay-native: options.cpus[" + std::to_string(i) + "] is not a CPU number");
    uint32_t cpu = static_cast<uint32_t>(d);
    for (uint32_t c : cpus_)
      if (c == cpu) range_error(env, "relay-native: CPU " + std::to_string(cpu) + " is listed twice");
    cpus_.push_back(cpu);
  }

  double sb = number_field(env, o, "subbufSize");
  if (!is_uint(sb) || sb < kMinSubbuf || sb > kMaxSubbuf || (static_cast<uint64_t>(sb) & (static_cast<uint64_t>(sb) - 1)))
    range_error(env, "relay-native: subbufSize must be a power of two between 4096 and 2^27, got " + std::to_string(sb));
  subbuf_size_ = static_cast<size_t>(sb);

  double ps = number_field(env, o, "poolSize");
  if (!is_uint(ps) || ps < 1 || ps > kMaxPool) range_error(env, "relay-native: poolSize must be an integer from 1 to 65536");
  size_t pool_size = static_cast<size_t>(ps);
  if (pool_size * subbuf_size_ > kMaxPoolBytes) range_error(env, "relay-native: poolSize × subbufSize exceeds 1 GiB per CPU");

  double lat = number_field(env, o, "latencyMs");
  if (!is_uint(lat) || lat < 1 || lat > kMaxLatencyMs) range_error(env, "relay-native: latencyMs must be an integer from 1 to 60000");
  latency_ms_ = static_cast<int>(lat);

  Napi::Value rt = o.Get("realtime");
  if (!rt.IsUndefined() && !rt.IsBoolean()) type_error(env, "relay-native: options.realtime must be a boolean");
  realtime_ = rt.IsBoolean() && rt.As<Napi::Boolean>().Value();

  Napi::Value be = o.Get("backend");
  backend_ = be.IsString() ? be.As<Napi::String>().Utf8Value() : "";
  if (backend_ != "mmap" && backend_ != "read") type_error(env, "relay-native: backend must be 'mmap' or 'read'");

  counters_.reset(new RoundCounters[cpus_.size()]);
  try {
    for (uint32_t cpu : cpus_) {
      std::string path = instance + "/per_cpu/cpu" + std::to_string(cpu) + "/trace_pipe_raw";
      sources_.push_back(backend_ == "mmap" ? open_mmap_source(path, subbuf_size_) : open_read_source(path, subbuf_size_));
      pools_.push_back(std::make_unique<Pool>(pool_size, subbuf_size_));
    }
  } catch (const std::bad_alloc&) {
    CloseSources();
    throw Napi::Error::New(env, "relay-native: out of memory allocating the sub-buffer pools");
  } catch (const SysError& e) {
    CloseSources();
    throw to_js_error(env, e);
  } catch (const std::exception& e) {
    CloseSources();
    throw Napi::Error::New(env, e.what());
  }
  control_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (control_fd_ < 0) {
    int err = errno;
    CloseSources();
    throw to_js_error(env, SysError("eventfd", "(control)", err));
  }

  Napi::Array js_pools = Napi::Array::New(env, pools_.size());
  for (size_t i = 0; i < pools_.size(); i++) {
    auto* keep = new std::shared_ptr<PoolMemory>(pools_[i]->memory());
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, (*keep)->data(), (*keep)->bytes(),
        [](Napi::Env, void*, std::shared_ptr<PoolMemory>* hint) { delete hint; }, keep);
    js_pools.Set(static_cast<uint32_t>(i), ab);
  }
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("pools", js_pools);
  slot_lists_ = std::make_shared<PoolMemory>(2 * kMaxBatch * sizeof(int32_t));
  batch_ = reinterpret_cast<int32_t*>(slot_lists_->data());
  released_ = batch_ + kMaxBatch;
  {
    auto* keep = new std::shared_ptr<PoolMemory>(slot_lists_);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, (*keep)->data(), (*keep)->bytes(),
        [](Napi::Env, void*, std::shared_ptr<PoolMemory>* hint) { delete hint; }, keep);
    self.Set("batch", Napi::Int32Array::New(env, kMaxBatch, ab, 0));
    self.Set("released", Napi::Int32Array::New(env, kMaxBatch, ab, kMaxBatch * sizeof(int32_t)));
  }
  self.Set("backend", Napi::String::New(env, backend_));
}

NativeReader::~NativeReader() {
  // Normally the threads are long gone (the object is kept alive while they run); this is
  // the last line of defence.
  abort_ = true;
  SignalStop();
  JoinThreads();
  if (hook_added_ && !env_gone_) napi_remove_env_cleanup_hook(env_, EnvCleanup, this);
  hook_added_ = false;
  CloseSources();
}

// start(onData(cpuIndex, count, drainedNs, extraArrayBuffer?), onError(err), onDone()):
// onData's slots are the first `count` entries of this.batch; drainedNs is -1 or the end of a
// round (see Delivery)
Napi::Value NativeReader::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Idle) throw Napi::Error::New(env, "relay-native: the reader was already started");
  if (sources_.empty()) throw Napi::Error::New(env, "relay-native: the reader was closed");
  if (info.Length() < 3 || !info[0].IsFunction() || !info[1].IsFunction() || !info[2].IsFunction())
    type_error(env, "relay-native: start(onData, onError, onDone) needs three functions");
  on_error_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_done_ = Napi::Persistent(info[2].As<Napi::Function>());
  tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), "tw-relay-native", 0, sources_.size(), this, &NativeReader::Finalize,
                    static_cast<void*>(nullptr));
  // added after the thread-safe function, so it runs before that function's own teardown
  napi_add_env_cleanup_hook(env, EnvCleanup, this);
  hook_added_ = true;
  Ref();  // the JS object lives while its threads do
  state_ = State::Running;
  size_t started = 0;
  try {
    with_signals_blocked([&] {
      for (size_t i = 0; i < sources_.size(); i++, started++) threads_.emplace_back(&NativeReader::ThreadMain, this, i);
    });
  } catch (const std::exception& e) {
    // give back the counts of threads that never ran; the ones that did are told to stop
    for (size_t i = started; i < sources_.size(); i++) tsfn_.Release();
    SignalStop();
    throw Napi::Error::New(env, std::string("relay-native: cannot start reader threads: ") + e.what());
  }
  return env.Undefined();
}

// stop(): every thread drains what its CPU buffer holds (partial sub-buffers too), hands it
// over and exits; onDone runs on the JS thread after the last delivery.
Napi::Value NativeReader::Stop(const Napi::CallbackInfo& info) {
  if (state_ == State::Running) {
    state_ = State::Stopping;
    SignalStop();
  } else if (state_ == State::Idle) {
    state_ = State::Done;
    CloseSources();
  }
  return info.Env().Undefined();
}

// close(): give up a reader that was never started (files closed, maps undone).
Napi::Value NativeReader::Close(const Napi::CallbackInfo& info) {
  if (state_ == State::Idle) {
    state_ = State::Done;
    CloseSources();
  }
  return info.Env().Undefined();
}

// stats(): per CPU index, what the reader did so far — { rounds, maxRound, poolWaits, poolWaitNs }
// (rounds that read something, the most sub-buffers one round read, how often and how long (ns)
// the reader waited for JS to give slots back). Readable at any time, also after stop().
Napi::Value NativeReader::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, pools_.size());
  for (size_t i = 0; i < pools_.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("rounds", Napi::Number::New(env, static_cast<double>(counters_[i].rounds.load(std::memory_order_relaxed))));
    o.Set("maxRound", Napi::Number::New(env, static_cast<double>(counters_[i].max_round.load(std::memory_order_relaxed))));
    o.Set("poolWaits", Napi::Number::New(env, static_cast<double>(pools_[i]->waits())));
    o.Set("poolWaitNs", Napi::Number::New(env, static_cast<double>(pools_[i]->wait_ns())));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// release(cpuIndex, slot): the slot's sub-buffer is no longer used by JS.
Napi::Value NativeReader::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) type_error(env, "relay-native: release(cpuIndex, slot)");
  double ci = info[0].As<Napi::Number>().DoubleValue();
  double slot = info[1].As<Napi::Number>().DoubleValue();
  if (!is_uint(ci) || ci >= pools_.size()) range_error(env, "relay-native: release: no such CPU index");
  if (!is_uint(slot)) range_error(env, "relay-native: release: bad slot");
  return Napi::Boolean::New(env, pools_[static_cast<size_t>(ci)]->release(static_cast<int>(slot)));
}

// releaseMany(cpuIndex, count): the first `count` slots of this.released go back to the pool.
Napi::Value NativeReader::ReleaseMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) type_error(env, "relay-native: releaseMany(cpuIndex, count)");
  double ci = info[0].As<Napi::Number>().DoubleValue();
  double n = info[1].As<Napi::Number>().DoubleValue();
  if (!is_uint(ci) || ci >= pools_.size()) range_error(env, "relay-native: releaseMany: no such CPU index");
  if (!is_uint(n) || n > kMaxBatch) range_error(env, "relay-native: releaseMany: bad count");
  Pool& pool = *pools_[static_cast<size_t>(ci)];
  bool all = true;
  for (size_t i = 0; i < static_cast<size_t>(n); i++) all = pool.release(released_[i]) && all;
  return Napi::Boolean::New(env, all);
}

void NativeReader::SignalStop() {
  stop_ = true;
  if (control_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t n;
    do n = ::write(control_fd_, &one, sizeof one);
    while (n < 0 && errno == EINTR);
  }
  for (auto& p : pools_) p->wake();
}

void NativeReader::JoinThreads() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void NativeReader::CloseSources() {
  sources_.clear();  // unmaps and closes: the instance can be removed after this
  if (control_fd_ >= 0) ::close(control_fd_);
  control_fd_ = -1;
}

void NativeReader::ReleaseAll(Delivery* d) {
  for (int32_t slot : d->slots) pools_[d->cpu_index]->release(slot);
  d->slots.clear();
}

void NativeReader::Post(Delivery* d) {
  if (abort_ || tsfn_.NonBlockingCall(d) != napi_ok) {
    ReleaseAll(d);
    delete d;
  }
}

void NativeReader::PostError(size_t index, const std::exception& e, const SysError* se) {
  auto* d = new Delivery();
  d->cpu_index = static_cast<uint32_t>(index);
  d->is_error = true;
  d->message = e.what();
  if (se) {
    d->err = se->err;
    d->code = errno_name(se->err);
    d->syscall = se->syscall;
    d->path = se->path;
  }
  Post(d);
}

// This thread's nice value, from /proc/thread-self/stat (field 19, after the comm's ')').
static bool read_nice(int* out) {
  std::string stat;
  if (!read_small_file("/proc/thread-self/stat", &stat)) return false;
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return false;
  size_t pos = paren + 1;
  for (int field = 3; field <= 19; field++) {
    while (pos < stat.size() && stat[pos] == ' ') pos++;
    if (field == 19) {
      char* end = nullptr;
      const long v = std::strtol(stat.c_str() + pos, &end, 10);
      if (end == stat.c_str() + pos) return false;
      *out = static_cast<int>(v);
      return true;
    }
    while (pos < stat.size() && stat[pos] != ' ') pos++;
  }
  return false;
}

// One CPU: drain what is there, then wait in poll() for data, the stop signal, or the
// latency timeout (after which we drain again: poll only wakes on the instance's
// buffer_percent, a partially filled sub-buffer must not wait for that).
void NativeReader::ThreadMain(size_t index) {
  Source& src = *sources_[index];
  Pool& pool = *pools_[index];
  {
    std::string name = "tw-rn-cpu" + std::to_string(cpus_[index]);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    // A reader that wakes late lets the kernel overwrite events: run ahead of the JS thread
    // and V8's threads (and other work on this CPU) when there is data. With `realtime`, the
    // lowest real-time priority (SCHED_FIFO 1): a woken reader then preempts any normal thread
    // at once, where the fair class can leave it waiting for the next tick (4 ms at HZ=250,
    // which at a few million events/s is more than a 1 MiB ring holds). The thread only copies
    // sub-buffers and sleeps: a round ends when it has caught up with the writer, and it waits
    // on the pool when JS is behind. Otherwise, or without CAP_SYS_NICE, 10 nice levels up
    // (best effort). (The nice value comes from /proc, not getpriority(): a syscall another tw
    // may be counting.)
    bool rt = false;
    if (realtime_) {
      struct sched_param sp;
      std::memset(&sp, 0, sizeof sp);
      sp.sched_priority = 1;
      rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    }
    int nice_now = 0;
    if (!rt && read_nice(&nice_now)) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::max(-20, nice_now - kReaderNiceBoost));
  }
  const size_t limit = src.drain_limit();
  size_t drained_after_stop = 0;
  bool poll_said_ready = false;  // the last poll() reported the data fd readable
  int idle_wakeups = 0;          // ... and the drain after it found nothing, this many times in a row
  std::unique_ptr<Delivery> batch;
  auto flush = [&] {
    if (batch) Post(batch.release());
  };
  auto open_batch = [&] {
    if (!batch) {
      batch = std::make_unique<Delivery>();
      batch->cpu_index = static_cast<uint32_t>(index);
      batch->slots.reserve(kBatch);
    }
  };
  auto add = [&](int slot) {
    open_batch();
    batch->slots.push_back(slot);
    if (batch->slots.size() >= kBatch) flush();
  };
  try {
    for (;;) {
      if (abort_) break;
      const bool stopping = stop_.load();
      size_t got = 0;
      double drained = -1;
      int partials = 0;  // part-filled sub-buffers in a row
      for (;;) {
        if (stopping && drained_after_stop >= limit) break;  // a writer that never stops must not keep us here
        int slot = pool.try_acquire();
        if (slot == Pool::kNone) {
          // every slot is out: hand over the ones this round holds before waiting for JS
          flush();
          slot = pool.acquire(abort_, stop_);
        }
        if (slot == Pool::kAborted) break;
        std::unique_ptr<uint8_t[]> extra;
        uint8_t* dst;
        if (slot == Pool::kUseExtra) {
          extra.reset(new uint8_t[subbuf_size_]);
          dst = extra.get();
        } else {
          dst = pool.slot(slot);
        }
        const double before = mono_ns();
        int r;
        try {
          r = src.next(dst);
        } catch (...) {
          if (slot >= 0) pool.release(slot);
          throw;
        }
        if (r == 0) {
          if (slot >= 0) pool.release(slot);
          drained = before;
          break;
        }
        got++;
        if (stopping) drained_after_stop++;
        const bool part_filled = (load_u64(dst + 8) & kCommitLengthMask) < (subbuf_size_ - kSubbufHeader) / 2;
        if (slot >= 0) {
          add(slot);
        } else {
          flush();  // keep the order
          auto* d = new Delivery();
          d->cpu_index = static_cast<uint32_t>(index);
          d->extra = std::move(extra);
          Post(d);
        }
        // A sub-buffer less than half full may be the kernel's write page (we have caught up) or
        // the rest of a page we took part of last round (more may follow). One more read tells:
        // nothing → this CPU is read up to now; a second part-filled one in a row → we are at
        // the writer: leave what follows for the next round (poll wake-up or the latency
        // timeout) instead of handing it over a few records at a time.
        if (part_filled && !stopping) {
          if (++partials >= 2) break;
        } else {
          partials = 0;
        }
      }
      if (got > 0) {
        RoundCounters& c = counters_[index];
        c.rounds.fetch_add(1, std::memory_order_relaxed);
        if (got > c.max_round.load(std::memory_order_relaxed)) c.max_round.store(got, std::memory_order_relaxed);
      }
      // the round's end: what it read, and up to when this CPU is now read (also when it read
      // nothing: JS holds other CPUs' events back until every CPU has been read past them)
      if (drained >= 0 && !stopping && !abort_) {
        open_batch();
        batch->drained_ns = drained;
      }
      flush();
      if (stopping || abort_) break;

      // poll() keeps saying "readable" yet there is nothing to take (the tracefs "block"
      // option does that): wait on the control pipe alone, so the thread does not spin
      if (got > 0) idle_wakeups = 0;
      else if (poll_said_ready) idle_wakeups++;
      struct pollfd fds[2] = {{idle_wakeups >= 3 ? -1 : src.fd(), POLLIN, 0}, {control_fd_, POLLIN, 0}};
      // every CPU's thread wakes on the same grid of the monotonic clock: their deliveries
      // reach the JS thread together (one wake-up there, not one per CPU)
      const int64_t now_ms = static_cast<int64_t>(mono_ns() / 1e6);
      const int timeout = latency_ms_ - static_cast<int>(now_ms % latency_ms_);
      int rv = ::poll(fds, 2, timeout);
      if (rv < 0 && errno != EINTR) throw SysError("poll", src.path(), errno);
      if (rv > 0 && (fds[0].revents & (POLLERR | POLLNVAL))) throw SysError("poll", src.path(), EIO);
      poll_said_ready = rv > 0 && (fds[0].revents & POLLIN);
    }
    if (batch) {
      ReleaseAll(batch.get());
      batch.reset();
    }
  } catch (const std::bad_alloc&) {
    PostError(index, std::runtime_error("relay-native: out of memory on CPU " + std::to_string(cpus_[index])), nullptr);
  } catch (const SysError& e) {
    PostError(index, e, &e);
  } catch (const std::exception& e) {
    PostError(index, e, nullptr);
  }
  tsfn_.Release();  // the last thing this thread does with the thread-safe function
}

// On the JS thread, once per delivery. env is null when the function is being torn down.
void NativeReader::CallJs(Napi::Env env, Napi::Function on_data, NativeReader* self, Delivery* d) {
  std::unique_ptr<Delivery> owned(d);
  if (env == nullptr || self->abort_) {
    self->ReleaseAll(d);
    return;
  }
  try {
    if (d->is_error) {
      Napi::Error err = Napi::Error::New(env, d->message);
      if (d->err) {
        err.Set("code", Napi::String::New(env, d->code));
        err.Set("errno", Napi::Number::New(env, -d->err));
        err.Set("syscall", Napi::String::New(env, d->syscall));
        err.Set("path", Napi::String::New(env, d->path));
      }
      err.Set("cpu", Napi::Number::New(env, self->cpus_[d->cpu_index]));
      self->on_error_.Call({err.Value()});
    } else if (d->extra) {
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, self->subbuf_size_);
      std::memcpy(ab.Data(), d->extra.get(), self->subbuf_size_);
      on_data.Call({Napi::Number::New(env, d->cpu_index), Napi::Number::New(env, 0), Napi::Number::New(env, d->drained_ns), ab});
    } else {
      const size_t n = d->slots.size();
      std::memcpy(self->batch_, d->slots.data(), n * sizeof(int32_t));
      d->slots.clear();  // JS owns them now
      on_data.Call({Napi::Number::New(env, d->cpu_index), Napi::Number::New(env, static_cast<double>(n)), Napi::Number::New(env, d->drained_ns)});
    }
  } catch (const Napi::Error& e) {
    // the TS wrapper catches its callbacks' exceptions; this is only reached when JS cannot
    // run any more (the environment is going away)
  }
}

// On the JS thread, after every thread released the function and every delivery ran.
void NativeReader::Finalize(Napi::Env env, void*, NativeReader* self) {
  self->JoinThreads();
  self->CloseSources();
  if (self->hook_added_ && !self->env_gone_) napi_remove_env_cleanup_hook(self->env_, EnvCleanup, self);
  self->hook_added_ = false;
  self->state_ = State::Done;
  if (!self->env_gone_) {
    try {
      self->on_done_.Call({});
    } catch (const Napi::Error&) {
    }
  }
  self->on_error_.Reset();
  self->on_done_.Reset();
  if (!self->env_gone_) {
    try {
      self->Unref();
    } catch (const Napi::Error&) {
    }
  }
}

// The environment is going away (worker terminated, process exiting normally) with the
// reader still running: stop the threads without delivering anything more.
void NativeReader::EnvCleanup(void* arg) {
  auto* self = static_cast<NativeReader*>(arg);
  self->hook_added_ = false;
  self->env_gone_ = true;
  self->abort_ = true;
  self->SignalStop();
  self->JoinThreads();
  self->CloseSources();
}

}  // namespace twrn
