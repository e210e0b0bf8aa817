// @tw/relay-native: module entry. Exports the reader class, a backend probe and, when the
// addon was built with libbpf (TW_HAVE_LIBBPF, see binding.gyp), the BPF probe class and the
// check of which BPF program types the kernel loads.
#include <napi.h>

#ifdef TW_HAVE_LIBBPF
#include <bpf/libbpf.h>

#include "bpf-probe.h"
#include "bpf-program-types.h"
#endif
#include "native-reader.h"
#include "sources.h"
#include "sys.h"

namespace {

// probe(traceRawPath, subbufSize) → { mmap: true | reason, read: true | reason }
// Opens (and for mmap, maps) the file and closes it again; nothing is consumed.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "relay-native: probe(path, subbufSize)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  double sb = info[1].As<Napi::Number>().DoubleValue();
  if (path.empty() || path[0] != '/') throw Napi::TypeError::New(env, "relay-native: probe: path must be absolute");
  if (!(sb >= 4096 && sb <= (1 << 27)) || (static_cast<uint64_t>(sb) & (static_cast<uint64_t>(sb) - 1)))
    throw Napi::RangeError::New(env, "relay-native: probe: subbufSize must be a power of two >= 4096");
  size_t subbuf = static_cast<size_t>(sb);
  Napi::Object out = Napi::Object::New(env);
  const char* names[2] = {"mmap", "read"};
  for (int i = 0; i < 2; i++) {
    try {
      auto src = i == 0 ? twrn::open_mmap_source(path, subbuf) : twrn::open_read_source(path, subbuf);
      out.Set(names[i], Napi::Boolean::New(env, true));
    } catch (const std::exception& e) {
      out.Set(names[i], Napi::String::New(env, e.what()));
    }
  }
  return out;
}

#ifdef TW_HAVE_LIBBPF
// bpfProgramTypes() → { tracepoint: true | reason, raw_tp: ..., tp_btf, kprobe, fentry, lsm }
// Loads (never attaches) a minimal program of each type and closes it again.
Napi::Value BpfProgramTypes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 0) throw Napi::TypeError::New(env, "relay-native: bpfProgramTypes() takes no arguments");
  Napi::Object out = Napi::Object::New(env);
  for (const auto& r : twrn::probe_program_types()) {
    if (r.loads) out.Set(r.type, Napi::Boolean::New(env, true));
    else out.Set(r.type, Napi::String::New(env, r.reason));
  }
  return out;
}
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeReader", twrn::NativeReader::Init(env));
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("abiVersion", Napi::Number::New(env, 7));
#ifdef TW_HAVE_LIBBPF
  // bpf: true, or why this build has no BPF backend
  exports.Set("bpf", Napi::Boolean::New(env, true));
  exports.Set("libbpfVersion", Napi::String::New(env, libbpf_version_string()));
  exports.Set("BpfProbe", twrn::BpfProbe::Init(env));
  exports.Set("bpfProgramTypes", Napi::Function::New(env, BpfProgramTypes, "bpfProgramTypes"));
#else
  exports.Set("bpf", Napi::String::New(env, "the addon was built without libbpf (install libbpf-dev and rebuild)"));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(tw_relay_native, Init)
