// Health-check sockets, set up as keepalived's checkers set theirs up: the
// options of keepalived's connection block applied before connect() —
// fwmark (SO_MARK), bind_if (SO_BINDTODEVICE), bindto and bind_port (bind()).
//
//   tcpProbe(address, port, cb, opts?) -> handle | code   non-blocking TCP connect:
//                                 cb(code, fd?) with '' (connected) or the errno name; the socket
//                                 is closed, unless opts.keep: then a connected socket's fd is
//                                 passed (the caller owns it). A code string at once if the socket
//                                 could not be set up or connect() failed at once.
//   tcpProbeCancel(handle)        abandon a probe (its callback will not run)
//   udpOpen(address, port, opts?) -> fd | code   a non-blocking connected UDP socket
//   sockSend(fd, buf)             -> '' | code   one datagram
//   sockRecv(fd)                  -> Buffer | code | null   one queued datagram, the socket's
//                                 error (an ICMP error: ECONNREFUSED ...), or null when none
//
// opts: {bindto?: address, bindPort?: 1..65535, bindIf?: ifname, fwmark?: 0..2^32-1, keep?: bool}.
// A code for a failed option names it: "EPERM (SO_MARK)".

#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common.h"
#include "poll_socket.h"

namespace vipd {

// Declared in common.h: the options, the address, the socket (also tcp_exchange.cc's).

bool ReadOpts(Napi::Env env, const Napi::Value& v, SockOpts& o) {
  if (!v.IsObject()) return true;
  // Read through the C API: node-addon-api's Object::Get makes an Error of a failed read,
  // and making one while the checker thread is terminated is a fatal error of node's
  // (seen at SIGTERM in a storm of checks).
  auto get = [&](const char* name, Napi::Value& out) {
    napi_value raw;
    if (napi_get_named_property(env, v, name, &raw) != napi_ok) return false;
    out = Napi::Value(env, raw);
    return true;
  };
  Napi::Value bindto, bindPort, bindIf, fwmark, keep;
  if (!get("bindto", bindto) || !get("bindPort", bindPort) || !get("bindIf", bindIf) || !get("fwmark", fwmark) || !get("keep", keep)) return false;
  if (bindto.IsString()) o.bindto = bindto.As<Napi::String>().Utf8Value();
  if (bindPort.IsNumber()) o.bindPort = static_cast<uint16_t>(bindPort.As<Napi::Number>().Uint32Value());
  if (bindIf.IsString()) o.bindIf = bindIf.As<Napi::String>().Utf8Value();
  if (fwmark.IsNumber()) {
    o.hasMark = true;
    o.mark = fwmark.As<Napi::Number>().Uint32Value();
  }
  o.keep = keep.ToBoolean().Value();
  return true;
}

bool SockAddr(const std::string& text, uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  memset(&ss, 0, sizeof ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, text.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    len = sizeof *s4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    len = sizeof *s6;
    return true;
  }
  return false;
}

int OpenConnected(int type, const sockaddr_storage& dst, socklen_t dstLen, const SockOpts& o, std::string& code) {
  int fd = socket(dst.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    code = std::string(ErrName(errno)) + " (socket)";
    return -1;
  }
  auto fail = [&](const char* what) {
    code = std::string(ErrName(errno)) + " (" + what + ")";
    close(fd);
    return -1;
  };
  if (o.hasMark && setsockopt(fd, SOL_SOCKET, SO_MARK, &o.mark, sizeof o.mark) < 0) return fail("SO_MARK");
  if (!o.bindIf.empty() && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.bindIf.c_str(), static_cast<socklen_t>(o.bindIf.size() + 1)) < 0)
    return fail("SO_BINDTODEVICE");
  if (!o.bindto.empty() || o.bindPort) {
    sockaddr_storage src;
    socklen_t srcLen = dstLen;
    if (!o.bindto.empty()) {
      if (!SockAddr(o.bindto, o.bindPort, src, srcLen) || src.ss_family != dst.ss_family) {
        errno = EAFNOSUPPORT;
        return fail("bindto");
      }
    } else {
      memset(&src, 0, sizeof src);
      src.ss_family = dst.ss_family;
      if (dst.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&src)->sin_port = htons(o.bindPort);
      else reinterpret_cast<sockaddr_in6*>(&src)->sin6_port = htons(o.bindPort);
    }
    if (type == SOCK_STREAM && o.bindPort) {
      // One source port for every check: the port must be free again at once, so the
      // connection ends with a reset rather than lingering in TIME_WAIT on it.
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      struct linger li = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &li, sizeof li);
    }
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src), srcLen) < 0) return fail("bind");
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&dst), dstLen) < 0 && errno != EINPROGRESS) {
    code = ErrName(errno);
    close(fd);
    return -1;
  }
  return fd;
}

namespace {

// ---- TCP connect probes -----------------------------------------------------
// keepalived's TCP_CHECK, without a stream object per check: a non-blocking
// connect() watched for writability on the loop, SO_ERROR read, socket closed
// (or handed over, connected). A probe's memory is freed when both its uv handle
// is closed and its JS handle is collected, so a late tcpProbeCancel() is always safe.

struct Probe {
  uv_poll_t handle;
  napi_env env;
  Napi::FunctionReference cb;
  int fd;
  bool keepFd = false;
  bool done = false;
  bool handleClosed = false;
  bool jsCollected = false;
};

void FinishProbe(Probe* p) { FinishPolled(p); }

void OnProbe(uv_poll_t* handle, int status, int events) {
  (void)events;
  Probe* p = static_cast<Probe*>(handle->data);
  if (p->done) return;
  int err = 0;
  socklen_t len = sizeof err;
  // libuv reports POLLERR (a failed connect) as UV_EBADF: the socket's own error says what happened.
  if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  else if (err == 0 && status < 0) err = -status;
  Napi::Env env(p->env);
  Napi::HandleScope scope(env);
  Napi::FunctionReference cb = std::move(p->cb);
  bool handOver = p->keepFd && err == 0;
  p->keepFd = handOver;
  FinishProbe(p);
  if (handOver) cb.MakeCallback(env.Global(), {Napi::String::New(env, ""), Napi::Number::New(env, p->fd)});
  else cb.MakeCallback(env.Global(), {Napi::String::New(env, err ? ErrName(err) : "")});
}

Napi::Value TcpProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsFunction()) THROW_TYPE(env, "tcpProbe(address, port, callback, options?)");
  sockaddr_storage ss;
  socklen_t sslen;
  if (!SockAddr(info[0].As<Napi::String>().Utf8Value(), static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value()), ss, sslen))
    THROW_TYPE(env, "tcpProbe: not an IPv4 or IPv6 address");
  SockOpts o;
  if (!ReadOpts(env, info[3], o)) return env.Undefined();
  std::string code;
  int fd = OpenConnected(SOCK_STREAM, ss, sslen, o, code);
  if (fd < 0) return Napi::String::New(env, code);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(fd);
    THROW_TYPE(env, "no event loop");
  }
  Probe* p = new Probe();
  p->env = env;
  p->fd = fd;
  p->keepFd = o.keep;
  p->cb = Napi::Persistent(info[2].As<Napi::Function>());
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r == 0) {
    p->handle.data = p;
    r = uv_poll_start(&p->handle, UV_WRITABLE, OnProbe);
    if (r != 0) {
      p->jsCollected = true;  // no JS handle will exist: freed when the handle is closed
      p->keepFd = false;
      FinishProbe(p);
      THROW_SYS(env, "uv_poll_start", -r);
    }
  } else {
    close(fd);
    delete p;
    THROW_SYS(env, "uv_poll_init", -r);
  }
  TrackPolled(static_cast<napi_env>(env), p);
  return Napi::External<Probe>::New(env, p, [](Napi::Env, Probe* p) {
    p->jsCollected = true;
    MaybeFree(p);
  });
}

Napi::Value TcpProbeCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) THROW_TYPE(env, "tcpProbeCancel(handle)");
  Probe* p = info[0].As<Napi::External<Probe>>().Data();
  if (!p->done) {
    p->keepFd = false;
    FinishProbe(p);
  }
  return env.Undefined();
}

// ---- UDP (UDP_CHECK, DNS_CHECK) -------------------------------------------------

Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) THROW_TYPE(env, "udpOpen(address, port, options?)");
  sockaddr_storage ss;
  socklen_t sslen;
  if (!SockAddr(info[0].As<Napi::String>().Utf8Value(), static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value()), ss, sslen))
    THROW_TYPE(env, "udpOpen: not an IPv4 or IPv6 address");
  SockOpts o;
  if (!ReadOpts(env, info[2], o)) return env.Undefined();
  std::string code;
  int fd = OpenConnected(SOCK_DGRAM, ss, sslen, o, code);
  if (fd < 0) return Napi::String::New(env, code);
  return Napi::Number::New(env, fd);
}

Napi::Value SockSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) THROW_TYPE(env, "sockSend(fd, buffer)");
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  if (send(info[0].As<Napi::Number>().Int32Value(), buf.Data(), buf.Length(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) return Napi::String::New(env, ErrName(errno));
  return Napi::String::New(env, "");
}

Napi::Value SockRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) THROW_TYPE(env, "sockRecv(fd)");
  uint8_t buf[65536];
  ssize_t n = recv(info[0].As<Napi::Number>().Int32Value(), buf, sizeof buf, MSG_DONTWAIT);
  if (n >= 0) return Napi::Buffer<uint8_t>::Copy(env, buf, static_cast<size_t>(n));
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return env.Null();
  return Napi::String::New(env, ErrName(errno));
}

}  // namespace

void InitCheckSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpProbe", Napi::Function::New(env, TcpProbe));
  exports.Set("tcpProbeCancel", Napi::Function::New(env, TcpProbeCancel));
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen));
  exports.Set("sockSend", Napi::Function::New(env, SockSend));
  exports.Set("sockRecv", Napi::Function::New(env, SockRecv));
}

}  // namespace vipd
