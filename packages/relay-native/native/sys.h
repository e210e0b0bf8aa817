// Small system-call helpers: errors that name the file, the call and the errno.
#pragma once

#include <stdexcept>
#include <string>

namespace twrn {

/** A failed system call: `syscall` on `path` gave errno `err`. what() is a full sentence. */
class SysError : public std::runtime_error {
 public:
  SysError(const std::string& syscall, const std::string& path, int err, const std::string& detail = "");
  const std::string syscall;
  const std::string path;
  const int err;
};

/** Invalid arguments or an unexpected kernel layout (no errno). */
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& msg) : std::runtime_error(msg) {}
};

/** "ENOENT" for ENOENT, "E<n>" for numbers we do not name. */
std::string errno_name(int err);

/** "cannot open /x: No such file or directory (ENOENT)". */
std::string describe_errno(const std::string& syscall, const std::string& path, int err);

/** Reads a small text file whole; returns false (and errno set) if it cannot. */
bool read_small_file(const std::string& path, std::string* out);

}  // namespace twrn
