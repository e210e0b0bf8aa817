// Where a CPU's sub-buffers come from: one interface, two backends.
//  - MmapSource: the ring-buffer memory map of trace_pipe_raw (kernel >= 6.10,
//    Documentation/trace/ring-buffer-map.rst): meta page + sub-buffers mapped read-only,
//    TRACE_MMAP_IOCTL_GET_READER hands us the reader sub-buffer, we copy its new bytes out.
//  - ReadSource: plain read() of trace_pipe_raw, one sub-buffer per read.
// Both open the file O_RDONLY|O_NONBLOCK: "nothing now" is an answer, never a wait.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace twrn {

class Source {
 public:
  virtual ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  /** "mmap" or "read". */
  virtual const char* name() const = 0;
  /**
   * Writes the next sub-buffer (exactly subbuf_size bytes: header, data, zeros) to dst.
   * 1 = written, 0 = nothing to read now; throws SysError on a read error.
   */
  virtual int next(uint8_t* dst) = 0;
  /** An upper bound on how many sub-buffers a final drain can yield (the buffer's size). */
  virtual size_t drain_limit() const = 0;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 protected:
  Source(std::string path, size_t subbuf_size);
  void open_file();
  std::string path_;
  size_t subbuf_size_;
  int fd_ = -1;
};

/** Opens a backend for `path` (…/per_cpu/cpuN/trace_pipe_raw). Throws SysError/UsageError. */
std::unique_ptr<Source> open_read_source(const std::string& path, size_t subbuf_size);
std::unique_ptr<Source> open_mmap_source(const std::string& path, size_t subbuf_size);

}  // namespace twrn
