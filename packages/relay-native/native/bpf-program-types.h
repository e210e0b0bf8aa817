// Which kinds of BPF program the running kernel lets this process load. Kernels differ here
// beyond what their config says: a lockdown or a distribution's policy can refuse kprobe,
// fentry or lsm programs (EPERM on load) while tracepoint programs load. The only reliable
// answer is to ask the kernel, so each kind is tried with the smallest program there is
// (r0 = 0; exit), loaded but never attached, and its fd closed at once.
#pragma once

#include <string>
#include <vector>

namespace twrn {

struct ProgramTypeResult {
  std::string type;    // tw's name for it: tracepoint, raw_tp, tp_btf, kprobe, fentry, lsm
  bool loads = false;  // the kernel accepted the program
  std::string reason;  // when not: "EPERM: operation not permitted", "no BTF for vmlinux (...)", ...
};

/** One result per kind, in a fixed order (tracepoint, raw_tp, tp_btf, kprobe, fentry, lsm). */
std::vector<ProgramTypeResult> probe_program_types();

}  // namespace twrn
