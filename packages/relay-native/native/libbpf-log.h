// libbpf's messages, kept instead of printed: libbpf writes its warnings (and the verifier's
// log, when a program is rejected) through one process-wide print callback. While a thread
// opens, loads and attaches an object it holds a LibbpfLog; what libbpf says on that thread
// goes there, so an error can quote it. Messages on other threads are dropped (tw's output
// is its own; every failure is reported through a return value anyway).
#pragma once

#include <string>
#include <vector>

namespace twrn {

class LibbpfLog {
 public:
  LibbpfLog();  // starts capturing on the calling thread
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  /** Everything libbpf printed on this thread so far (the tail, if it was very long). */
  const std::string& text() const { return text_; }
  void append(const char* s, size_t n);

 private:
  std::string text_;
  LibbpfLog* previous_;
};

/**
 * The last `max_lines` non-empty lines of the last verifier log in `log` (libbpf prints it
 * between "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --"); empty when there is none.
 */
std::vector<std::string> verifier_tail(const std::string& log, size_t max_lines);

/** The name in libbpf's last "prog 'NAME': failed to load" line, or empty. */
std::string failed_program(const std::string& log);

}  // namespace twrn
