#include "sys.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace twrn {

namespace {
std::string verb_for(const std::string& syscall) {
  if (syscall == "open") return "cannot open";
  if (syscall == "read") return "cannot read";
  if (syscall == "mmap") return "cannot mmap";
  if (syscall == "ioctl") return "ioctl TRACE_MMAP_IOCTL_GET_READER failed on";
  if (syscall == "poll") return "poll failed on";
  return syscall + " failed on";
}
}  // namespace

SysError::SysError(const std::string& sc, const std::string& p, int e, const std::string& detail)
    : std::runtime_error(describe_errno(sc, p, e) + detail), syscall(sc), path(p), err(e) {}

std::string errno_name(int err) {
  switch (err) {
#define TWRN_E(x) case x: return #x;
    TWRN_E(EPERM) TWRN_E(ENOENT) TWRN_E(EINTR) TWRN_E(EIO) TWRN_E(ENXIO) TWRN_E(EBADF)
    TWRN_E(EAGAIN) TWRN_E(ENOMEM) TWRN_E(EACCES) TWRN_E(EFAULT) TWRN_E(EBUSY) TWRN_E(EEXIST)
    TWRN_E(ENODEV) TWRN_E(ENOTDIR) TWRN_E(EISDIR) TWRN_E(EINVAL) TWRN_E(EMFILE) TWRN_E(ENFILE)
    TWRN_E(ENOTTY) TWRN_E(ENOSPC) TWRN_E(ERANGE) TWRN_E(ENOSYS) TWRN_E(EOPNOTSUPP) TWRN_E(EOVERFLOW)
#undef TWRN_E
    default: return "E" + std::to_string(err);
  }
}

std::string describe_errno(const std::string& syscall, const std::string& path, int err) {
  return verb_for(syscall) + " " + path + ": " + std::strerror(err) + " (" + errno_name(err) + ")";
}

bool read_small_file(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[256];
  out->clear();
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > 4096) break;
  }
  int saved = errno;
  ::close(fd);
  errno = saved;
  return true;
}

}  // namespace twrn
