{
  "targets": [
    {
      "target_name": "vipd_native",
      "sources": ["native/vipd_native.cc", "native/check_socket.cc", "native/tcp_exchange.cc", "native/ipvs_dump.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
