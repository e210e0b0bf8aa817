// Probe parameters: the object's globals named tw_param_<name>: fixed ones `const volatile` in
// its .rodata section, live ones `volatile` in .data (changeable after load); all set before load (the way bpftool's skeletons set theirs). Where a variable
// sits, how big it is and what type it has come from the object's BTF (the DATASEC ".rodata"
// and its var_secinfo entries); a name the object does not have, or a value that does not fit
// the variable, is refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct bpf_object;

namespace twrn {

/** Prefix of a parameter's variable name in the object. */
constexpr const char* kParamPrefix = "tw_param_";

/** One value from JS. Integers (numbers and bigints) are kept as sign and magnitude. */
struct ParamValue {
  enum class Kind { Integer, Boolean, String } kind = Kind::Integer;
  bool negative = false;
  uint64_t magnitude = 0;
  bool boolean = false;
  std::string string;
};

struct Param {
  std::string name;  // without the prefix
  ParamValue value;
};

/**
 * Sets parameters before load: fixed ones (const volatile, in .rodata) and live ones (volatile,
 * in .data); throws BpfError (code BPF_PARAM) naming the first bad one.
 */
void set_params(bpf_object* obj, const std::string& object_path, const std::vector<Param>& params);

/**
 * Changes live parameters (.data) of a loaded object: the programs read them at every run, so
 * the next event sees the new values. A fixed (.rodata) or unknown name is a BPF_PARAM error.
 */
void update_params(bpf_object* obj, const std::string& object_path, const std::vector<Param>& params);

/** The object's parameter names (without the prefix), in section order. */
std::vector<std::string> param_names(bpf_object* obj);

}  // namespace twrn
