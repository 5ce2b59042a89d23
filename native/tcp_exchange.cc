// One request and its answer on a TCP connection, without a stream object:
// the plain-HTTP health check's transport (src/health/http.ts; the answer is
// parsed in TypeScript, src/health/http-wire.ts).
//
//   tcpExchange(address, port, request, cb, options?) -> handle | code
//       non-blocking connect with the check's options (check_socket.cc's: bindto,
//       bindPort, bindIf, fwmark), then `request` (a Buffer)
//       written, then the answer read as it comes: cb('', chunk) for each piece,
//       cb('', null) at the server's end of the stream, cb(code) for an error (the
//       errno name: ECONNREFUSED, ECONNRESET, ...). A code string at once when
//       the socket could not be set up or connect() failed at once ("EPERM (SO_MARK)").
//   tcpExchangeCancel(handle)        close the connection; no callback after it.
//       The caller cancels once it has its outcome (also from inside cb).
//
// Its memory is freed as a probe's (poll_socket.h): a late tcpExchangeCancel() is always safe.

#include <napi.h>
#include <uv.h>
#include "common.h"
#include "poll_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

using vipd::ErrName;

struct Exchange {
  uv_poll_t handle;
  napi_env env;
  Napi::FunctionReference cb;
  int fd;
  bool keepFd = false;
  std::string request;
  size_t sent = 0;
  bool connected = false;
  bool done = false;
  bool handleClosed = false;
  bool jsCollected = false;
};

/** Calls back; the exchange is finished for an error or the end (the caller may also cancel from inside). */
void Report(Exchange* x, int err, const char* data, ssize_t n) {
  Napi::Env env(x->env);
  Napi::HandleScope scope(env);
  Napi::Value chunk = n > 0 ? Napi::Buffer<char>::Copy(env, data, static_cast<size_t>(n)).As<Napi::Value>() : env.Null();
  Napi::FunctionReference cb;
  if (err || n == 0) {
    cb = std::move(x->cb);
    FinishPolled(x);
    cb.MakeCallback(env.Global(), {Napi::String::New(env, err ? ErrName(err) : ""), chunk});
  } else {
    x->cb.MakeCallback(env.Global(), {Napi::String::New(env, ""), chunk});
  }
}

void OnEvent(uv_poll_t* handle, int status, int events) {
  Exchange* x = static_cast<Exchange*>(handle->data);
  if (x->done) return;
  if (!x->connected) {
    int err = 0;
    socklen_t len = sizeof err;
    // libuv reports POLLERR (a failed connect) as UV_EBADF: the socket's own error says what happened.
    if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    else if (err == 0 && status < 0) err = -status;
    if (err) return Report(x, err, nullptr, -1);
    x->connected = true;
  }
  if (x->sent < x->request.size()) {
    ssize_t n = send(x->fd, x->request.data() + x->sent, x->request.size() - x->sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Report(x, errno, nullptr, -1);
    if (n > 0) x->sent += static_cast<size_t>(n);
    if (x->sent < x->request.size()) return;  // the rest when writable again
    uv_poll_start(&x->handle, UV_READABLE, OnEvent);
    if (!(events & UV_READABLE)) return;
  }
  char buf[65536];
  ssize_t n = read(x->fd, buf, sizeof buf);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return Report(x, errno, nullptr, -1);
  }
  Report(x, 0, buf, n);  // n == 0: the server's end of the stream
}

Napi::Value TcpExchange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsBuffer() || !info[3].IsFunction()) {
    Napi::TypeError::New(env, "tcpExchange(address, port, request, callback, options?)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  sockaddr_storage ss;
  socklen_t sslen;
  if (!vipd::SockAddr(info[0].As<Napi::String>().Utf8Value(), static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value()), ss, sslen)) {
    Napi::TypeError::New(env, "tcpExchange: not an IPv4 or IPv6 address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  vipd::SockOpts o;
  if (!vipd::ReadOpts(env, info[4], o)) return env.Undefined();
  std::string code;
  int fd = vipd::OpenConnected(SOCK_STREAM, ss, sslen, o, code);
  if (fd < 0) return Napi::String::New(env, code);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) loop = nullptr;
  Exchange* x = new Exchange();
  x->env = env;
  x->fd = fd;
  auto req = info[2].As<Napi::Buffer<char>>();
  x->request.assign(req.Data(), req.Length());
  x->cb = Napi::Persistent(info[3].As<Napi::Function>());
  int r = loop ? uv_poll_init(loop, &x->handle, fd) : UV_EINVAL;
  if (r != 0) {
    close(fd);
    delete x;
    return Napi::String::New(env, ErrName(-r));
  }
  x->handle.data = x;
  r = uv_poll_start(&x->handle, UV_WRITABLE, OnEvent);
  if (r != 0) {
    x->jsCollected = true;  // no JS handle will exist: freed when the handle is closed
    FinishPolled(x);
    return Napi::String::New(env, ErrName(-r));
  }
  TrackPolled(static_cast<napi_env>(env), x);
  return Napi::External<Exchange>::New(env, x, [](Napi::Env, Exchange* x) {
    x->jsCollected = true;
    MaybeFree(x);
  });
}

Napi::Value TcpExchangeCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(env, "tcpExchangeCancel(handle)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Exchange* x = info[0].As<Napi::External<Exchange>>().Data();
  if (!x->done) FinishPolled(x);
  return env.Undefined();
}

}  // namespace

void InitTcpExchange(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpExchange", Napi::Function::New(env, TcpExchange));
  exports.Set("tcpExchangeCancel", Napi::Function::New(env, TcpExchangeCancel));
}
