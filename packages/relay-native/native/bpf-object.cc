#include "bpf-object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "bpf-error.h"
#include "libbpf-log.h"
#include "sys.h"

namespace twrn {

namespace {

/** Verifier lines quoted in a BPF_VERIFIER error. */
constexpr size_t kVerifierLines = 10;

std::string errno_text(int err) { return std::string(std::strerror(err)) + " (" + errno_name(err) + ")"; }

/** The error for a failed bpf_object__load, from its errno and what libbpf printed meanwhile. */
BpfError load_error(const std::string& path, bpf_object* obj, int err, const std::string& log) {
  const std::string prog = failed_program(log);
  std::string section;
  if (!prog.empty()) {
    if (const bpf_program* p = bpf_object__find_program_by_name(obj, prog.c_str())) section = bpf_program__section_name(p);
  }
  const std::string which = prog.empty() ? "a program" : "program '" + prog + "'" + (section.empty() ? "" : " (" + section + ")");
  std::vector<std::string> tail = verifier_tail(log, kVerifierLines);
  if (!tail.empty()) {
    std::string msg = "BPF object " + path + ": the verifier rejected " + which + "; its last lines:";
    for (const auto& l : tail) msg += "\n  " + l;
    BpfError e("BPF_VERIFIER", msg, err);
    e.program = prog;
    e.section = section;
    e.verifier = std::move(tail);
    return e;
  }
  // no verifier log: the kernel refused the program type or attach kind (EPERM for fentry/lsm/
  // kprobe programs on some kernels), a CO-RE relocation failed, or a map could not be made
  std::string last;
  for (size_t end = log.size(); end > 0 && last.empty();) {
    const size_t start = log.rfind('\n', end - 1);
    const size_t from = start == std::string::npos ? 0 : start + 1;
    std::string line = log.substr(from, end - from);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    if (line.find("failed to load object") == std::string::npos && line.find("failed to load BPF skeleton") == std::string::npos) last = line;
    end = start == std::string::npos ? 0 : start;
  }
  BpfError e("BPF_LOAD", "BPF object " + path + ": the kernel refused to load " + which + ": " + errno_text(err) + (last.empty() ? "" : " — " + last), err);
  e.program = prog;
  e.section = section;
  return e;
}

}  // namespace

void BpfObject::update_params(const std::vector<Param>& params) {
  if (obj_ == nullptr) throw BpfError("BPF_PARAM", "BPF object " + path_ + ": already closed", 0);
  twrn::update_params(obj_, path_, params);
}

BpfObject::BpfObject(const std::string& path, const std::vector<Param>& params) : path_(path) {
  LibbpfLog log;
  obj_ = bpf_object__open_file(path.c_str(), nullptr);
  if (obj_ == nullptr) {
    const int err = errno;
    throw BpfError("BPF_OPEN", "cannot open BPF object " + path + ": " + errno_text(err), err);
  }
  try {
    set_params(obj_, path_, params);
    find_maps();
    const int rc = bpf_object__load(obj_);
    if (rc != 0) throw load_error(path_, obj_, rc < 0 ? -rc : EINVAL, log.text());
    events_fd_ = bpf_object__find_map_fd_by_name(obj_, "tw_events");
    lost_fd_ = bpf_object__find_map_fd_by_name(obj_, "tw_lost");
    ncpus_ = libbpf_num_possible_cpus();
    if (ncpus_ <= 0) throw BpfError("BPF_LOAD", "cannot count the possible CPUs: " + errno_text(-ncpus_), -ncpus_);
    attach_all();
  } catch (...) {
    close();
    throw;
  }
}

BpfObject::~BpfObject() { close(); }

void BpfObject::find_maps() {
  const bpf_map* events = bpf_object__find_map_by_name(obj_, "tw_events");
  const bpf_map* lost = bpf_object__find_map_by_name(obj_, "tw_lost");
  if (events == nullptr || bpf_map__type(events) != BPF_MAP_TYPE_RINGBUF)
    throw BpfError("BPF_CONTRACT", "BPF object " + path_ + ": it has no ring buffer map named tw_events (BPF_MAP_TYPE_RINGBUF)");
  if (lost == nullptr || bpf_map__type(lost) != BPF_MAP_TYPE_PERCPU_ARRAY || bpf_map__value_size(lost) != 8 || bpf_map__key_size(lost) != 4 ||
      bpf_map__max_entries(lost) < 1)
    throw BpfError("BPF_CONTRACT", "BPF object " + path_ + ": it has no map tw_lost (BPF_MAP_TYPE_PERCPU_ARRAY, u32 key, u64 value)");
  events_bytes_ = bpf_map__max_entries(events);
  if (bpf_object__next_program(obj_, nullptr) == nullptr) throw BpfError("BPF_CONTRACT", "BPF object " + path_ + ": it has no program");
}

void BpfObject::attach_all() {
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    if (!bpf_program__autoload(prog)) continue;
    ProgramInfo info{bpf_program__name(prog), bpf_program__section_name(prog)};
    bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) {
      const int err = errno;
      BpfError e("BPF_ATTACH", "BPF object " + path_ + ": cannot attach program '" + info.name + "' to " + info.section + ": " + errno_text(err), err);
      e.program = info.name;
      e.section = info.section;
      throw e;
    }
    links_.push_back(link);
    programs_.push_back(std::move(info));
  }
}

void BpfObject::detach() {
  for (bpf_link* l : links_) bpf_link__destroy(l);
  links_.clear();
}

void BpfObject::close() {
  detach();
  if (obj_ != nullptr) bpf_object__close(obj_);
  obj_ = nullptr;
  events_fd_ = lost_fd_ = -1;
}

std::vector<uint64_t> BpfObject::lost_per_cpu() const {
  if (lost_fd_ < 0) throw BpfError("BPF_CONTRACT", "BPF object " + path_ + ": it is closed");
  // a per-CPU array's lookup returns one value per possible CPU, each rounded up to 8 bytes
  std::vector<uint64_t> values(static_cast<size_t>(ncpus_), 0);
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(lost_fd_, &key, values.data()) != 0) {
    const int err = errno;
    throw BpfError("BPF_RINGBUF", "BPF object " + path_ + ": cannot read tw_lost: " + errno_text(err), err);
  }
  return values;
}

}  // namespace twrn
