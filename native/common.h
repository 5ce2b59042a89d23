// What the addon's source files share: errno names and the errors thrown to JS.

#pragma once

#include <napi.h>
#include <string.h>
#include <sys/socket.h>
#include <string>

namespace vipd {

/** "ECONNREFUSED" for ECONNREFUSED ("EUNKNOWN" for a number libc has no name for). */
inline const char* ErrName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

inline Napi::Error SysError(Napi::Env env, const char* syscall, int err) {
  std::string msg = std::string(syscall) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Value().Set("code", Napi::String::New(env, ErrName(err)));
  e.Value().Set("errno", Napi::Number::New(env, err));
  e.Value().Set("syscall", Napi::String::New(env, syscall));
  return e;
}

#define THROW_SYS(env, call, err)                  \
  do {                                             \
    SysError(env, call, err).ThrowAsJavaScriptException(); \
    return env.Undefined();                        \
  } while (0)

#define THROW_TYPE(env, msg)                                  \
  do {                                                        \
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException(); \
    return env.Undefined();                                   \
  } while (0)

/** Registers the health-check sockets (check_socket.cc). */
void InitCheckSockets(Napi::Env env, Napi::Object exports);

/** Registers the IPVS dump readers (ipvs_dump.cc). */
void InitIpvsDump(Napi::Env env, Napi::Object exports);

/** keepalived's connection options of a check (check_socket.cc), applied before connect(). */
struct SockOpts {
  std::string bindto;
  uint16_t bindPort = 0;
  std::string bindIf;
  bool hasMark = false;
  uint32_t mark = 0;
  bool keep = false;
};

/**
 * The options object of tcpProbe / udpOpen / tcpExchange ({bindto, bindPort, bindIf,
 * fwmark, keep}) into `o`; false when a property cannot be read (an exception is
 * pending: a getter threw, or the thread is being terminated) — the caller then
 * returns at once, and the pending exception, if any, reaches JavaScript.
 */
bool ReadOpts(Napi::Env env, const Napi::Value& v, SockOpts& o);

/** An IPv4 or IPv6 address and port; false when the text is neither. */
bool SockAddr(const std::string& text, uint16_t port, sockaddr_storage& ss, socklen_t& len);

/**
 * A non-blocking socket of `dst`'s family with the options applied, connect()
 * started. Returns the fd (connect may be in progress), or -1 with `code` set.
 */
int OpenConnected(int type, const sockaddr_storage& dst, socklen_t dstLen, const SockOpts& o, std::string& code);

}  // namespace vipd
