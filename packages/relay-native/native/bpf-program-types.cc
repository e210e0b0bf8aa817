#include "bpf-program-types.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "libbpf-log.h"
#include "sys.h"

namespace twrn {

namespace {

/** The kernel's ENOTSUPP (not in the user-space headers); bpf() can return it. */
constexpr int kEnotsupp = 524;

/** A kind of program and, for those checked against the kernel's BTF at load, what it attaches to. */
struct Kind {
  const char* type;
  const char* prog_name;  // at most 15 characters (BPF_OBJ_NAME_LEN)
  bpf_prog_type prog_type;
  bpf_attach_type attach;  // expected_attach_type; 0 when the kind has none
  int btf_kind;            // 0: needs no BTF id
  const char* btf_prefix;  // the BTF name is prefix + target
  std::vector<const char*> targets;  // tried in order: the first one this kernel's BTF has
};

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k = {
      {"tracepoint", "twpt_tracepoint", BPF_PROG_TYPE_TRACEPOINT, static_cast<bpf_attach_type>(0), 0, "", {}},
      {"raw_tp", "twpt_raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, static_cast<bpf_attach_type>(0), 0, "", {}},
      // tp_btf: the typedef the kernel declares for each tracepoint, btf_trace_<name>
      {"tp_btf", "twpt_tp_btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, BTF_KIND_TYPEDEF, "btf_trace_", {"sched_switch"}},
      {"kprobe", "twpt_kprobe", BPF_PROG_TYPE_KPROBE, static_cast<bpf_attach_type>(0), 0, "", {}},
      {"fentry", "twpt_fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, BTF_KIND_FUNC, "", {"vfs_read", "do_unlinkat"}},
      // lsm: the hook's BPF stub, bpf_lsm_<hook>
      {"lsm", "twpt_lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, BTF_KIND_FUNC, "bpf_lsm_", {"file_open"}},
  };
  return k;
}

/** "EPERM: operation not permitted" (strerror's text, lower-cased first letter). */
std::string errno_reason(int err) {
  if (err == kEnotsupp) return "ENOTSUPP: not supported by the kernel";
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return errno_name(err) + ": " + text;
}

/** The last non-empty line of a kernel log, or "". */
std::string last_line(const char* log) {
  std::string s(log);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

}  // namespace

std::vector<ProgramTypeResult> probe_program_types() {
  LibbpfLog log;  // libbpf's warnings (e.g. about BTF) are kept, not printed
  // r0 = 0; exit
  const bpf_insn insns[2] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  btf* vmlinux = nullptr;
  std::string btf_problem;
  bool btf_tried = false;

  std::vector<ProgramTypeResult> out;
  for (const Kind& k : kinds()) {
    ProgramTypeResult r;
    r.type = k.type;
    LIBBPF_OPTS(bpf_prog_load_opts, opts);
    opts.expected_attach_type = k.attach;
    if (k.btf_kind != 0) {
      if (!btf_tried) {
        btf_tried = true;
        vmlinux = btf__load_vmlinux_btf();
        if (vmlinux == nullptr) {
          const int err = errno;
          btf_problem = "no BTF for vmlinux (" + errno_reason(err) + ")";
        }
      }
      if (vmlinux == nullptr) {
        r.reason = btf_problem;
        out.push_back(std::move(r));
        continue;
      }
      int id = -1;
      std::string tried;
      for (const char* t : k.targets) {
        const std::string name = std::string(k.btf_prefix) + t;
        id = btf__find_by_name_kind(vmlinux, name.c_str(), k.btf_kind);
        if (id > 0) break;
        tried += (tried.empty() ? "" : ", ") + name;
      }
      if (id <= 0) {
        r.reason = "no BTF for " + tried + " in vmlinux";
        out.push_back(std::move(r));
        continue;
      }
      opts.attach_btf_id = static_cast<__u32>(id);
    }
    // a log only on failure: libbpf loads again with log_level 1 when the first load fails
    char kernel_log[4096] = "";
    opts.log_buf = kernel_log;
    opts.log_size = sizeof kernel_log;
    opts.log_level = 0;
    const int fd = bpf_prog_load(k.prog_type, k.prog_name, "GPL", insns, 2, &opts);
    if (fd >= 0) {
      ::close(fd);
      r.loads = true;
    } else {
      const int err = -fd;
      r.reason = errno_reason(err);
      const std::string line = last_line(kernel_log);
      if (!line.empty()) r.reason += " — " + line;
    }
    out.push_back(std::move(r));
  }
  btf__free(vmlinux);
  return out;
}

}  // namespace twrn
