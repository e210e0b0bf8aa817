// A bounded pool of sub-buffer-sized slots for one CPU. The reader thread takes a free slot,
// fills it, hands it to JS; JS gives it back with release(). When every slot is out, the
// thread waits here (back-pressure): the kernel ring buffer keeps absorbing events and
// counts what it has to overwrite. Memory is one block, mapped once; free slots are taken
// last-released-first, so only as many pages as the busiest moment needed are ever touched.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <sys/mman.h>
#include <vector>

namespace twrn {

/**
 * The memory of a pool; shared with the ArrayBuffer JS sees, so whichever goes last frees it.
 * An anonymous mapping: zero-filled by the kernel and backed by memory only where a slot has
 * been written, so a pool sized for the worst moment costs little while the JS thread keeps up.
 */
class PoolMemory {
 public:
  explicit PoolMemory(size_t bytes) : bytes_(bytes ? bytes : 1) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<uint8_t*>(p);
  }
  ~PoolMemory() { munmap(data_, bytes_); }
  PoolMemory(const PoolMemory&) = delete;
  PoolMemory& operator=(const PoolMemory&) = delete;
  uint8_t* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  uint8_t* data_;
  size_t bytes_;
};

class Pool {
 public:
  /** What acquire() got. */
  enum : int { kAborted = -1, kUseExtra = -2, kNone = -3 };

  Pool(size_t slots, size_t slot_size)
      : memory_(std::make_shared<PoolMemory>(slots * slot_size)), slot_size_(slot_size), in_use_(slots, 0) {
    free_.reserve(slots);
    for (size_t i = slots; i-- > 0;) free_.push_back(static_cast<int>(i));
  }

  const std::shared_ptr<PoolMemory>& memory() const { return memory_; }
  uint8_t* slot(int i) const { return memory_->data() + static_cast<size_t>(i) * slot_size_; }
  size_t slots() const { return in_use_.size(); }

  /**
   * A free slot index; waits while none is free. Returns kAborted when `abort` is set, and
   * kUseExtra when `stopping` is set and no slot is free: the final drain must not wait
   * for a consumer that may only release after stop() resolves (it is bounded by the
   * kernel buffer's size instead).
   */
  int acquire(const std::atomic<bool>& abort, const std::atomic<bool>& stopping) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (free_.empty() && !abort.load() && !stopping.load()) {
      // back-pressure: counted, so that events the kernel had to overwrite meanwhile can be
      // put down to a consumer that fell behind (see stats())
      waits_.fetch_add(1, std::memory_order_relaxed);
      const auto t0 = std::chrono::steady_clock::now();
      cv_.wait(lock, [&] { return !free_.empty() || abort.load() || stopping.load(); });
      wait_ns_.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()),
                         std::memory_order_relaxed);
    }
    if (abort.load()) return kAborted;
    if (free_.empty()) return kUseExtra;
    return take_locked();
  }

  /** A free slot index, or kNone without waiting when every slot is out. */
  int try_acquire() {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_.empty() ? kNone : take_locked();
  }

  /** Gives a slot back; false if it was not out (double release or a bad index). */
  bool release(int i) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (i < 0 || static_cast<size_t>(i) >= in_use_.size() || !in_use_[static_cast<size_t>(i)]) return false;
      in_use_[static_cast<size_t>(i)] = 0;
      free_.push_back(i);
    }
    cv_.notify_one();
    return true;
  }

  /** Wakes a waiting acquire() after a flag changed (taken under the lock: no lost wake-up). */
  void wake() {
    { std::lock_guard<std::mutex> lock(mutex_); }
    cv_.notify_all();
  }

  /** How often acquire() found every slot out and waited, and for how long in all (ns). */
  uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }
  uint64_t wait_ns() const { return wait_ns_.load(std::memory_order_relaxed); }

  size_t free_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_.size();
  }

 private:
  /** Takes the last free slot; the mutex is held and a slot is free. */
  int take_locked() {
    int i = free_.back();
    free_.pop_back();
    in_use_[static_cast<size_t>(i)] = 1;
    return i;
  }

  std::shared_ptr<PoolMemory> memory_;
  size_t slot_size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<int> free_;
  std::vector<uint8_t> in_use_;
  std::atomic<uint64_t> waits_{0};
  std::atomic<uint64_t> wait_ns_{0};
};

}  // namespace twrn
