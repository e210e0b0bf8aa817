{
  # @tw/relay-native: the per-CPU ring-buffer reader addon (node-addon-api, Node-API 8), and
  # the BPF probe loader when libbpf is found with pkg-config (set TW_RELAY_NO_LIBBPF=1 to
  # build without it). Without libbpf the addon still builds; it then reports why it has no
  # BPF backend.
  "variables": {
    "has_libbpf": "<!(sh -c 'if [ -z \"$TW_RELAY_NO_LIBBPF\" ] && pkg-config --exists libbpf; then echo 1; else echo 0; fi')"
  },
  "targets": [
    {
      "target_name": "tw_relay_native",
      "sources": [
        "native/addon.cc",
        "native/native-reader.cc",
        "native/sources.cc",
        "native/subbuf.cc",
        "native/sys.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["has_libbpf==1", {
          "sources": [
            "native/bpf-object.cc",
            "native/bpf-params.cc",
            "native/bpf-probe.cc",
            "native/bpf-program-types.cc",
            "native/libbpf-log.cc"
          ],
          "defines": ["TW_HAVE_LIBBPF"],
          "cflags_cc": ["<!@(pkg-config --cflags libbpf)"],
          "libraries": ["<!@(pkg-config --libs libbpf)"]
        }]
      ]
    }
  ]
}
