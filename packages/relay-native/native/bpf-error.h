// What can go wrong between an object file and an attached, polled BPF probe. Each failure
// has a code (the TS side documents them) and says which file, program or parameter it is
// about; a rejected program carries the verifier's last lines.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace twrn {

class BpfError : public std::runtime_error {
 public:
  /**
   * codes: BPF_OPEN (the object file cannot be opened/parsed), BPF_PARAM (a parameter is
   * unknown or does not fit), BPF_CONTRACT (a map the loader needs is missing or of the wrong
   * kind), BPF_LOAD (the kernel refused a program), BPF_VERIFIER (the verifier rejected it),
   * BPF_ATTACH (a program could not be attached), BPF_RINGBUF (the ring buffer cannot be read).
   */
  BpfError(std::string code, const std::string& message, int err = 0) : std::runtime_error(message), code(std::move(code)), err(err) {}
  std::string code;
  int err;                              // errno, 0 when there is none
  std::string program;                  // the program it is about, if any
  std::string section;                  // ... and its ELF section (the attach point)
  std::vector<std::string> verifier;    // the verifier's last lines (BPF_VERIFIER)
};

}  // namespace twrn
