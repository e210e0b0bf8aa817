#include "sources.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "subbuf.h"
#include "sys.h"

namespace twrn {

namespace {

// Our own description of the kernel's struct trace_buffer_meta (uapi linux/trace_mmap.h,
// kernel >= 6.10): the first page of the mapping. Only the fields up to reader.read are
// required; the rest are statistics.
struct MetaPage {
  uint32_t meta_page_size;   // bytes of the meta area; the sub-buffers follow it
  uint32_t meta_struct_len;  // how much of this struct the kernel fills
  uint32_t subbuf_size;      // bytes per sub-buffer, header included
  uint32_t nr_subbufs;       // sub-buffers in the mapping, the reader included
  uint64_t reader_lost_events;
  uint32_t reader_id;        // which sub-buffer is the reader now
  uint32_t reader_read;      // bytes of its data the kernel counts as consumed
  uint64_t flags;
  uint64_t entries;
  uint64_t overrun;
  uint64_t read;
};
static_assert(sizeof(MetaPage) == 64, "trace_buffer_meta layout");
constexpr size_t kMetaNeeded = offsetof(MetaPage, reader_read) + sizeof(uint32_t);

// _IO('R', 0x20): swap in a new reader sub-buffer (or advance the current one) and update
// the meta page. Spelled out so the build does not need kernel headers >= 6.10.
constexpr unsigned long kGetReader = _IO('R', 0x20);

template <typename T>
T volatile_load(const T* p) {
  return *static_cast<const volatile T*>(p);
}

size_t page_size() {
  long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<size_t>(p) : 4096;
}

/** …/per_cpu/cpuN/trace_pipe_raw → …/per_cpu/cpuN/buffer_size_kb (KiB of this CPU's ring). */
size_t buffer_kb_for(const std::string& pipe_path) {
  auto slash = pipe_path.rfind('/');
  if (slash == std::string::npos) return 0;
  std::string text;
  if (!read_small_file(pipe_path.substr(0, slash) + "/buffer_size_kb", &text)) return 0;
  return static_cast<size_t>(std::strtoull(text.c_str(), nullptr, 10));  // "1410" or "7 (expanded: 1408)"
}

class ReadSource final : public Source {
 public:
  ReadSource(const std::string& path, size_t subbuf_size) : Source(path, subbuf_size) {
    open_file();
    size_t kb = buffer_kb_for(path);
    limit_ = kb ? (kb * 1024 / subbuf_size_) * 2 + 8 : 65536;
  }
  const char* name() const override { return "read"; }
  size_t drain_limit() const override { return limit_; }

  int next(uint8_t* dst) override {
    for (;;) {
      ssize_t n = ::read(fd_, dst, subbuf_size_);
      if (n > 0) {
        // The kernel returns one whole sub-buffer per read of this size; a partially filled
        // one comes with its commit word saying how much is valid.
        if (static_cast<size_t>(n) < subbuf_size_) std::memset(dst + n, 0, subbuf_size_ - static_cast<size_t>(n));
        return 1;
      }
      if (n == 0) return 0;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      throw SysError("read", path_, errno);
    }
  }

 private:
  size_t limit_;
};

class MmapSource final : public Source {
 public:
  MmapSource(const std::string& path, size_t subbuf_size) : Source(path, subbuf_size) {
    open_file();
    try {
      map();
    } catch (...) {
      unmap();
      throw;
    }
  }
  ~MmapSource() override { unmap(); }

  const char* name() const override { return "mmap"; }
  size_t drain_limit() const override { return static_cast<size_t>(nr_subbufs_) * 2 + 8; }

  int next(uint8_t* dst) override {
    while (::ioctl(fd_, kGetReader) < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      throw SysError("ioctl", path_, errno);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const uint32_t id = volatile_load(&meta_->reader_id);
    const uint32_t consumed = volatile_load(&meta_->reader_read);
    const size_t data_cap = subbuf_size_ - kSubbufHeader;
    if (id >= nr_subbufs_ || consumed > data_cap)
      throw UsageError("unexpected ring-buffer meta page on " + path_ + ": reader id " + std::to_string(id) +
                       ", read " + std::to_string(consumed) + " (nr_subbufs " + std::to_string(nr_subbufs_) + ")");
    const uint8_t* page = data_ + static_cast<size_t>(id) * subbuf_size_;

    // The kernel advances reader.read over everything committed when we ask, and keeps
    // writing into the reader sub-buffer while it is also the write page. So a sub-buffer
    // comes to us in pieces: [0, read) the first time we see it, then [previous read, read).
    const bool fresh = id != cur_id_ || cur_end_ == 0 || consumed < cur_end_;
    const size_t start = fresh ? 0 : cur_end_;
    if (consumed <= start) {
      cur_id_ = id;
      cur_end_ = consumed;
      if (fresh) cur_ts_ = 0;
      return 0;
    }
    const size_t len = consumed - start;
    std::memcpy(dst + kSubbufHeader, page + kSubbufHeader + start, len);
    size_t used = len;
    uint64_t commit = len;
    uint64_t base_ts;
    if (fresh) {
      base_ts = volatile_load(reinterpret_cast<const uint64_t*>(page));
      // lost-event flags (and the stored count) are put on a sub-buffer when it is swapped in
      const uint64_t kcommit = volatile_load(reinterpret_cast<const uint64_t*>(page + 8));
      commit |= kcommit & kMissedEvents;
      if ((kcommit & kMissedStored) && consumed + 8 <= data_cap) {
        std::memcpy(dst + kSubbufHeader + len, page + kSubbufHeader + consumed, 8);
        commit |= kMissedStored;
        used += 8;
      }
    } else {
      // a continuation: like the kernel's own partial read, the header timestamp is the
      // time of the last record before the cut, so the first delta still adds up
      base_ts = cur_ts_;
    }
    std::memset(dst + kSubbufHeader + used, 0, data_cap - used);
    store_u64(dst, base_ts);
    store_u64(dst + 8, commit);
    cur_ts_ = advance_timestamp(dst + kSubbufHeader, 0, len, base_ts);
    cur_id_ = id;
    cur_end_ = consumed;
    return 1;
  }

 private:
  void map() {
    const size_t psz = page_size();
    void* m = ::mmap(nullptr, psz, PROT_READ, MAP_SHARED, fd_, 0);
    if (m == MAP_FAILED) throw SysError("mmap", path_, errno, " (the ring-buffer memory map needs Linux >= 6.10)");
    meta_ = static_cast<const MetaPage*>(m);
    meta_len_ = psz;
    const uint32_t meta_size = volatile_load(&meta_->meta_page_size);
    const uint32_t struct_len = volatile_load(&meta_->meta_struct_len);
    if (struct_len < kMetaNeeded || meta_size < psz || meta_size % psz != 0)
      throw UsageError("unsupported ring-buffer meta page on " + path_ + " (meta_page_size " + std::to_string(meta_size) +
                       ", meta_struct_len " + std::to_string(struct_len) + ")");
    if (meta_size != psz) {
      ::munmap(const_cast<MetaPage*>(meta_), meta_len_);
      meta_ = nullptr;
      m = ::mmap(nullptr, meta_size, PROT_READ, MAP_SHARED, fd_, 0);
      if (m == MAP_FAILED) throw SysError("mmap", path_, errno);
      meta_ = static_cast<const MetaPage*>(m);
      meta_len_ = meta_size;
    }
    const uint32_t ksub = volatile_load(&meta_->subbuf_size);
    nr_subbufs_ = volatile_load(&meta_->nr_subbufs);
    if (ksub != subbuf_size_)
      throw UsageError("the kernel's sub-buffer size for " + path_ + " is " + std::to_string(ksub) +
                       " bytes, not subbufSize " + std::to_string(subbuf_size_));
    if (nr_subbufs_ == 0) throw UsageError("ring buffer of " + path_ + " has no sub-buffers");
    data_len_ = static_cast<size_t>(nr_subbufs_) * subbuf_size_;
    m = ::mmap(nullptr, data_len_, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(meta_size));
    if (m == MAP_FAILED) {
      data_len_ = 0;
      throw SysError("mmap", path_, errno, " (mapping the sub-buffers)");
    }
    data_ = static_cast<const uint8_t*>(m);
  }

  void unmap() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), data_len_);
    if (meta_) ::munmap(const_cast<MetaPage*>(meta_), meta_len_);
    data_ = nullptr;
    meta_ = nullptr;
  }

  const MetaPage* meta_ = nullptr;
  size_t meta_len_ = 0;
  const uint8_t* data_ = nullptr;
  size_t data_len_ = 0;
  uint32_t nr_subbufs_ = 0;
  uint32_t cur_id_ = UINT32_MAX;  // reader sub-buffer we copied from last
  size_t cur_end_ = 0;            // how far into its data we have copied
  uint64_t cur_ts_ = 0;           // the timestamp reached at cur_end_
};

}  // namespace

Source::Source(std::string path, size_t subbuf_size) : path_(std::move(path)), subbuf_size_(subbuf_size) {}

Source::~Source() {
  if (fd_ >= 0) ::close(fd_);
}

void Source::open_file() {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw SysError("open", path_, errno);
}

std::unique_ptr<Source> open_read_source(const std::string& path, size_t subbuf_size) {
  return std::make_unique<ReadSource>(path, subbuf_size);
}

std::unique_ptr<Source> open_mmap_source(const std::string& path, size_t subbuf_size) {
  return std::make_unique<MmapSource>(path, subbuf_size);
}

}  // namespace twrn
