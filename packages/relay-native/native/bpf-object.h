// One tw BPF object, from its file to attached programs: open (libbpf parses the ELF and
// its BTF), set the parameters, load (the verifier checks every program; CO-RE relocations
// against the running kernel's BTF), attach every program, and find the two maps of the
// contract: `tw_events` (BPF_MAP_TYPE_RINGBUF) and `tw_lost` (per-CPU array, one u64).
// Nothing is pinned: the programs and links live exactly as long as this process holds
// their file descriptors, so a killed process leaves nothing attached.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpf-params.h"

struct bpf_object;
struct bpf_link;

namespace twrn {

struct ProgramInfo {
  std::string name;     // the function's name
  std::string section;  // its ELF section: the attach point, e.g. "tracepoint/syscalls/sys_enter_getppid"
};

class BpfObject {
 public:
  /** Opens, parameterises, loads and attaches; throws BpfError. */
  BpfObject(const std::string& path, const std::vector<Param>& params);
  ~BpfObject();  // detaches, then closes the object (its programs and maps go with their last fd)
  BpfObject(const BpfObject&) = delete;
  BpfObject& operator=(const BpfObject&) = delete;

  const std::vector<ProgramInfo>& programs() const { return programs_; }
  int events_fd() const { return events_fd_; }
  /** The ring buffer's data size in bytes. */
  uint32_t events_bytes() const { return events_bytes_; }

  /** Changes live parameters of the loaded programs (see update_params); throws BpfError. */
  void update_params(const std::vector<Param>& params);
  /** Destroys every link: the programs stop running (idempotent). */
  void detach();
  /** tw_lost's value on each possible CPU; throws BpfError if the map cannot be read. */
  std::vector<uint64_t> lost_per_cpu() const;

 private:
  void close();
  void find_maps();
  void attach_all();

  std::string path_;
  bpf_object* obj_ = nullptr;
  std::vector<bpf_link*> links_;
  std::vector<ProgramInfo> programs_;
  int events_fd_ = -1;
  uint32_t events_bytes_ = 0;
  int lost_fd_ = -1;
  int ncpus_ = 0;
};

}  // namespace twrn
