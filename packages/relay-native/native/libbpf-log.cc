#include "libbpf-log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace twrn {

namespace {

/** Kept of a long log: its tail (a rejected program's verifier log can run to megabytes). */
constexpr size_t kMaxLog = 256 * 1024;

thread_local LibbpfLog* t_log = nullptr;

int print_to_capture(enum libbpf_print_level level, const char* fmt, va_list ap) {
  LibbpfLog* log = t_log;
  if (log == nullptr) return 0;
  char small[1024];
  va_list copy;
  va_copy(copy, ap);
  const int n = std::vsnprintf(small, sizeof small, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  if (static_cast<size_t>(n) < sizeof small) {
    log->append(small, static_cast<size_t>(n));
  } else {
    std::string big(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(&big[0], big.size(), fmt, ap);
    log->append(big.data(), static_cast<size_t>(n));
  }
  (void)level;  // debug messages are kept too: they are what precedes a failure
  return n;
}

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(print_to_capture); });
}

std::vector<std::string> split_lines(const std::string& s, size_t from, size_t to) {
  std::vector<std::string> out;
  size_t pos = from;
  while (pos < to) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos || nl > to) nl = to;
    std::string line = s.substr(pos, nl - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
    pos = nl + 1;
  }
  return out;
}

}  // namespace

LibbpfLog::LibbpfLog() : previous_(t_log) {
  install_once();
  t_log = this;
}

LibbpfLog::~LibbpfLog() { t_log = previous_; }

void LibbpfLog::append(const char* s, size_t n) {
  text_.append(s, n);
  if (text_.size() > kMaxLog) text_.erase(0, text_.size() - kMaxLog / 2);
}

std::vector<std::string> verifier_tail(const std::string& log, size_t max_lines) {
  static const std::string kBegin = "-- BEGIN PROG LOAD LOG --";
  static const std::string kEnd = "-- END PROG LOAD LOG --";
  const size_t begin = log.rfind(kBegin);
  if (begin == std::string::npos) return {};
  const size_t from = log.find('\n', begin);
  if (from == std::string::npos) return {};
  size_t to = log.find(kEnd, from);
  if (to == std::string::npos) to = log.size();
  std::vector<std::string> lines = split_lines(log, from + 1, to);
  if (lines.size() > max_lines) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max_lines));
  return lines;
}

std::string failed_program(const std::string& log) {
  static const std::string kMark = "': failed to load";
  const size_t mark = log.rfind(kMark);
  if (mark == std::string::npos) return "";
  const size_t open = log.rfind("prog '", mark);
  if (open == std::string::npos) return "";
  return log.substr(open + 6, mark - open - 6);
}

}  // namespace twrn
