#include "bpf-params.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>

#include "bpf-error.h"

namespace twrn {

namespace {

/** What a parameter variable can hold, from its BTF type (modifiers and typedefs resolved). */
struct VarType {
  enum class Kind { Integer, Boolean, CharArray, Other } kind = Kind::Other;
  bool is_signed = false;
  uint32_t size = 0;  // bytes (CharArray: the array's length)
  std::string what;   // "a 4-byte unsigned integer", for messages
};

/** A variable of a data section (.rodata or .data). */
struct RodataVar {
  std::string name;  // the full variable name
  uint32_t offset = 0;
  uint32_t size = 0;
  uint32_t type_id = 0;
};

struct Rodata {
  bpf_map* map = nullptr;
  const btf* types = nullptr;
  std::vector<RodataVar> vars;
};

[[noreturn]] void param_error(const std::string& path, const std::string& msg) {
  throw BpfError("BPF_PARAM", "BPF object " + path + ": " + msg);
}

/** The internal map libbpf made of a data section (".rodata" becomes "<object>.rodata"). */
bpf_map* find_section_map(bpf_object* obj, const std::string& kSuffix) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (!bpf_map__is_internal(map)) continue;
    const std::string name = bpf_map__name(map);
    if (name.size() >= kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) return map;
  }
  return nullptr;
}

/** A data section's map and variables (from the object's BTF DATASEC of that name). */
Rodata read_section(bpf_object* obj, const char* section) {
  Rodata r;
  r.map = find_section_map(obj, section);
  r.types = bpf_object__btf(obj);
  if (r.map == nullptr || r.types == nullptr) return r;
  const int sec = btf__find_by_name_kind(r.types, section, BTF_KIND_DATASEC);
  if (sec <= 0) return r;
  const btf_type* t = btf__type_by_id(r.types, static_cast<uint32_t>(sec));
  const btf_var_secinfo* vs = btf_var_secinfos(t);
  for (uint16_t i = 0; i < btf_vlen(t); i++, vs++) {
    const btf_type* var = btf__type_by_id(r.types, vs->type);
    if (var == nullptr || !btf_is_var(var)) continue;
    r.vars.push_back({btf__name_by_offset(r.types, var->name_off), vs->offset, vs->size, var->type});
  }
  return r;
}

VarType describe(const btf* types, uint32_t type_id) {
  VarType v;
  const int id = btf__resolve_type(types, type_id);
  const btf_type* t = id > 0 ? btf__type_by_id(types, static_cast<uint32_t>(id)) : nullptr;
  if (t == nullptr) {
    v.what = "of an unknown type";
    return v;
  }
  if (btf_is_int(t)) {
    const uint8_t enc = btf_int_encoding(t);
    v.size = t->size;
    if (enc & BTF_INT_BOOL) {
      v.kind = VarType::Kind::Boolean;
      v.what = "a bool";
    } else {
      v.kind = VarType::Kind::Integer;
      v.is_signed = (enc & BTF_INT_SIGNED) != 0;
      v.what = "a " + std::to_string(v.size) + "-byte " + (v.is_signed ? "signed" : "unsigned") + " integer";
    }
  } else if (btf_is_enum(t)) {
    v.kind = VarType::Kind::Integer;
    v.size = t->size;
    v.is_signed = btf_kflag(t);
    v.what = "a " + std::to_string(v.size) + "-byte enum";
  } else if (btf_is_array(t)) {
    const struct btf_array* a = btf_array(t);
    const int eid = btf__resolve_type(types, a->type);
    const btf_type* e = eid > 0 ? btf__type_by_id(types, static_cast<uint32_t>(eid)) : nullptr;
    if (e != nullptr && btf_is_int(e) && e->size == 1) {
      v.kind = VarType::Kind::CharArray;
      v.size = a->nelems;
      v.what = "a char[" + std::to_string(a->nelems) + "] string";
    } else {
      v.what = "an array of a type tw cannot set";
    }
  } else {
    v.what = "of a type tw cannot set (BTF kind " + std::to_string(btf_kind(t)) + ")";
  }
  return v;
}

std::string show(const ParamValue& p) {
  switch (p.kind) {
    case ParamValue::Kind::Integer: return (p.negative ? "-" : "") + std::to_string(p.magnitude);
    case ParamValue::Kind::Boolean: return p.boolean ? "true" : "false";
    case ParamValue::Kind::String: return "'" + p.string + "'";
  }
  return "?";
}

/** The bytes to write for `p` into a variable of type `v`, or a reason it does not fit. */
bool encode(const ParamValue& p, const VarType& v, std::vector<uint8_t>* out, std::string* why) {
  switch (v.kind) {
    case VarType::Kind::Integer:
    case VarType::Kind::Boolean: {
      if (v.size != 1 && v.size != 2 && v.size != 4 && v.size != 8) {
        *why = "its size (" + std::to_string(v.size) + " bytes) is not one tw sets";
        return false;
      }
      bool negative = false;
      uint64_t mag = 0;
      if (p.kind == ParamValue::Kind::String) {
        *why = "a string does not go into an integer";
        return false;
      }
      if (p.kind == ParamValue::Kind::Boolean) {
        mag = p.boolean ? 1 : 0;
      } else {
        negative = p.negative && p.magnitude != 0;
        mag = p.magnitude;
      }
      const unsigned bits = v.size * 8;
      if (v.kind == VarType::Kind::Boolean) {
        if (negative || mag > 1) {
          *why = "a bool takes true, false, 0 or 1";
          return false;
        }
      } else if (!v.is_signed) {
        if (negative) {
          *why = "it is unsigned";
          return false;
        }
        if (bits < 64 && mag > ((uint64_t{1} << bits) - 1)) {
          *why = "it does not fit " + std::to_string(bits) + " bits";
          return false;
        }
      } else {
        const uint64_t limit = uint64_t{1} << (bits - 1);  // |min|; max is limit - 1
        if (negative ? mag > limit : mag >= limit) {
          *why = "it does not fit a signed " + std::to_string(bits) + "-bit integer";
          return false;
        }
      }
      const uint64_t raw = negative ? ~mag + 1 : mag;  // two's complement
      out->assign(v.size, 0);
      // the object is built for this machine's byte order (clang -target bpf picks the host's)
      if (v.size == 1) { uint8_t x = static_cast<uint8_t>(raw); std::memcpy(out->data(), &x, 1); }
      if (v.size == 2) { uint16_t x = static_cast<uint16_t>(raw); std::memcpy(out->data(), &x, 2); }
      if (v.size == 4) { uint32_t x = static_cast<uint32_t>(raw); std::memcpy(out->data(), &x, 4); }
      if (v.size == 8) std::memcpy(out->data(), &raw, 8);
      return true;
    }
    case VarType::Kind::CharArray: {
      if (p.kind != ParamValue::Kind::String) {
        *why = "only a string goes into a char array";
        return false;
      }
      if (p.string.find('\0') != std::string::npos) {
        *why = "it contains a NUL byte";
        return false;
      }
      if (p.string.size() + 1 > v.size) {
        *why = "it is " + std::to_string(p.string.size()) + " bytes long, and with its NUL it does not fit";
        return false;
      }
      out->assign(v.size, 0);
      std::memcpy(out->data(), p.string.data(), p.string.size());
      return true;
    }
    case VarType::Kind::Other:
      *why = "tw cannot set it";
      return false;
  }
  return false;
}

std::string list_names(const std::vector<std::string>& names) {
  if (names.empty()) return "it has none";
  std::string s = "it has ";
  for (size_t i = 0; i < names.size(); i++) s += (i ? ", " : "") + names[i];
  return s;
}

std::vector<std::string> names_of(const Rodata& r) {
  std::vector<std::string> out;
  const size_t plen = std::strlen(kParamPrefix);
  for (const auto& v : r.vars)
    if (v.name.compare(0, plen, kParamPrefix) == 0) out.push_back(v.name.substr(plen));
  return out;
}

/** Write the params (all variables of section `r`) into `data`, the section's bytes. */
void encode_into(const std::string& path, const char* section, const Rodata& r, const std::vector<const Param*>& params, std::vector<uint8_t>* data) {
  for (const Param* p : params) {
    const std::string full = kParamPrefix + p->name;
    const RodataVar* var = nullptr;
    for (const auto& v : r.vars)
      if (v.name == full) var = &v;
    const VarType type = describe(r.types, var->type_id);
    std::vector<uint8_t> bytes;
    std::string why;
    if (!encode(p->value, type, &bytes, &why))
      param_error(path, "parameter '" + p->name + "' is " + type.what + "; " + show(p->value) + " does not fit: " + why);
    if (bytes.size() != var->size || static_cast<size_t>(var->offset) + var->size > data->size())
      param_error(path, "parameter '" + p->name + "' is " + std::to_string(var->size) + " bytes in " + section + " but its type is " + std::to_string(bytes.size()) +
                            " bytes (a broken object?)");
    std::memcpy(data->data() + var->offset, bytes.data(), bytes.size());
  }
}

bool has(const std::vector<std::string>& names, const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); }

}  // namespace

std::vector<std::string> param_names(bpf_object* obj) {
  std::vector<std::string> out = names_of(read_section(obj, ".rodata"));
  for (auto& n : names_of(read_section(obj, ".data"))) out.push_back(n);
  return out;
}

void set_params(bpf_object* obj, const std::string& path, const std::vector<Param>& params) {
  if (params.empty()) return;
  if (bpf_object__btf(obj) == nullptr) param_error(path, "it has no BTF (build it with clang -g), so its parameters cannot be found");
  // fixed params are const volatile in .rodata; live ones (changeable after load) volatile in .data
  const char* kSections[] = {".rodata", ".data"};
  const Rodata secs[] = {read_section(obj, kSections[0]), read_section(obj, kSections[1])};
  std::vector<const Param*> by_sec[2];
  for (const Param& p : params) {
    int at = -1;
    for (int s = 0; s < 2 && at < 0; s++)
      if (secs[s].map != nullptr && has(names_of(secs[s]), p.name)) at = s;
    if (at < 0)
      param_error(path, "unknown parameter '" + p.name + "' (no " + kParamPrefix + p.name + " in .rodata or .data; " + list_names(param_names(obj)) + ")");
    by_sec[at].push_back(&p);
  }
  for (int s = 0; s < 2; s++) {
    if (by_sec[s].empty()) continue;
    size_t size = 0;
    const void* initial = bpf_map__initial_value(secs[s].map, &size);
    if (initial == nullptr) param_error(path, std::string("its ") + kSections[s] + " section has no initial value to set");
    std::vector<uint8_t> data(static_cast<const uint8_t*>(initial), static_cast<const uint8_t*>(initial) + size);
    encode_into(path, kSections[s], secs[s], by_sec[s], &data);
    const int err = bpf_map__set_initial_value(secs[s].map, data.data(), data.size());
    if (err) throw BpfError("BPF_PARAM", "BPF object " + path + ": cannot set its parameters: " + std::strerror(-err), -err);
  }
}

void update_params(bpf_object* obj, const std::string& path, const std::vector<Param>& params) {
  if (params.empty()) return;
  const Rodata data_sec = read_section(obj, ".data");
  const std::vector<std::string> live = names_of(data_sec);
  std::vector<const Param*> todo;
  for (const Param& p : params) {
    if (!has(live, p.name)) {
      const bool fixed = has(names_of(read_section(obj, ".rodata")), p.name);
      param_error(path, fixed ? "parameter '" + p.name + "' is fixed once the object is loaded (not a live parameter)"
                              : "unknown parameter '" + p.name + "' (" + list_names(param_names(obj)) + ")");
    }
    todo.push_back(&p);
  }
  // .data is one array element: read it, change the variables, write it back
  const size_t size = bpf_map__value_size(data_sec.map);
  std::vector<uint8_t> data(size);
  const uint32_t zero = 0;
  int err = bpf_map__lookup_elem(data_sec.map, &zero, sizeof(zero), data.data(), size, 0);
  if (err) throw BpfError("BPF_PARAM", "BPF object " + path + ": cannot read its live parameters: " + std::strerror(-err), -err);
  encode_into(path, ".data", data_sec, todo, &data);
  err = bpf_map__update_elem(data_sec.map, &zero, sizeof(zero), data.data(), size, BPF_ANY);
  if (err) throw BpfError("BPF_PARAM", "BPF object " + path + ": cannot change its live parameters: " + std::strerror(-err), -err);
}

}  // namespace twrn
