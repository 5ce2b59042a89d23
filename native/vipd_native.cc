// vipd's native addon: socket I/O only. Everything above the socket (building
// and parsing netlink messages, ARP frames) is TypeScript, unit tested without root.
//
//   nlOpen(protocol, groups)         -> fd     AF_NETLINK socket, bound to multicast groups
//   nlExchange(fd, requests, chunkMessages, chunkBytes, timeoutMs) -> Buffer
//                                             requests sent several per datagram, answers read
//                                             until each has its DONE/ERROR; all answers, concatenated
//   nlRecv(fd)                       -> Buffer|null   one queued datagram; null when none is
//   nlPortId(fd)                     -> number the socket's netlink port id
//   watch(fd, cb)                    -> handle  cb() whenever fd is readable (uv_poll)
//   unwatch(handle)
//   close(fd)
//   packetSend(ifindex, frame)                one Ethernet frame through AF_PACKET (SOCK_RAW)
//   unixDgramSend(path, buf)                  one datagram to a unix socket ('@' = abstract)
//   tcpProbe(address, port, cb)      -> handle | code   non-blocking TCP connect, then close:
//                                             cb(code) with '' (connected) or the errno name;
//                                             a code string at once if connect() failed at once
//   tcpProbeCancel(handle)                    abandon a probe (its callback will not run)
//
// Errors are thrown as Error with `code` ('EPERM', 'ENODEV', ...), `errno` and `syscall`.

#include <napi.h>
#include <algorithm>
#include <vector>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/ethernet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

/** "ECONNREFUSED" for ECONNREFUSED ("EUNKNOWN" for a number libc has no name for). */
const char* ErrName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

Napi::Error SysError(Napi::Env env, const char* syscall, int err) {
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

Napi::Value NlOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) THROW_TYPE(env, "nlOpen(protocol, groups)");
  int proto = info[0].As<Napi::Number>().Int32Value();
  uint32_t groups = info[1].As<Napi::Number>().Uint32Value();
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) THROW_SYS(env, "socket", errno);
  int rcvbuf = 4 * 1024 * 1024;
  // Room for the ACKs of a batch: FORCE passes net.core.rmem_max (needs CAP_NET_ADMIN), else best effort.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);  // best effort: error strings
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);  // ACKs without the request echoed
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
    int err = errno;
    close(fd);
    THROW_SYS(env, "bind", err);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value NlPortId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct sockaddr_nl sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&sa), &len) < 0) THROW_SYS(env, "getsockname", errno);
  return Napi::Number::New(env, sa.nl_pid);
}

// Sends one datagram to the kernel; returns 0 or an errno.
int SendToKernel(int fd, const uint8_t* data, size_t len) {
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd, data, len, 0, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

// Receiving. Datagrams land in a per-thread scratch buffer far larger than any
// netlink skb (the kernel caps a dump skb near 32 KiB); MSG_TRUNC reports the
// real size, so an oversized one is an error, never silently cut.
constexpr size_t kRecvScratch = 1 << 20;

std::vector<uint8_t>& Scratch() {
  thread_local std::vector<uint8_t> scratch(kRecvScratch);
  return scratch;
}

// Receives one queued datagram, without waiting (null when nothing is queued):
// what a watched socket's readable callback drains.
Napi::Value NlRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) THROW_TYPE(env, "nlRecv(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::vector<uint8_t>& scratch = Scratch();
  ssize_t n;
  do {
    n = recv(fd, scratch.data(), scratch.size(), MSG_DONTWAIT | MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return env.Null();
    THROW_SYS(env, "recv", errno);
  }
  if (static_cast<size_t>(n) > scratch.size()) THROW_SYS(env, "recv (netlink datagram larger than 1 MiB)", EMSGSIZE);
  return Napi::Buffer<uint8_t>::Copy(env, scratch.data(), n);
}

// Requests and their answers in one call into C++: `requests` holds complete
// netlink messages, sent `chunkMessages` (and at most `chunkBytes`) per datagram
// — the kernel handles a datagram's messages one after another before sendto
// returns — and after each datagram the answers are read until every request in
// it has its end: NLMSG_DONE (a dump) or NLMSG_ERROR (an ACK or an error). Dumps
// go one per datagram (a socket runs one dump at a time). Returns every datagram
// read, concatenated, each 4-byte aligned; the caller parses them and matches
// answers to requests by sequence number. A chunk whose answers do not all come
// within `timeoutMs` is left at that (the caller sees which requests have no
// end) and the next chunk goes on. Waiting answers are read with recvmmsg, up to
// 32 per syscall: an 11,000-operation load is 11,000 ACKs.
Napi::Value NlExchange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber())
    THROW_TYPE(env, "nlExchange(fd, requests, chunkMessages, chunkBytes, timeoutMs)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto reqs = info[1].As<Napi::Buffer<uint8_t>>();
  size_t chunkMessages = std::max<int64_t>(1, info[2].As<Napi::Number>().Int64Value());
  size_t chunkBytes = std::max<int64_t>(1, info[3].As<Napi::Number>().Int64Value());
  int timeout = info[4].As<Napi::Number>().Int32Value();
  const uint8_t* data = reqs.Data();
  size_t total = reqs.Length();

  // One slot per datagram, as large as the kernel makes a dump datagram (it caps
  // one near 32 KiB); MSG_TRUNC marks one that did not fit.
  constexpr int kSlots = 32;
  constexpr size_t kSlotBytes = 32768;
  static_assert(kSlots * kSlotBytes <= kRecvScratch, "slots fit the scratch buffer");
  std::vector<uint8_t>& scratch = Scratch();
  struct mmsghdr msgs[kSlots];
  struct iovec iov[kSlots];

  std::vector<uint8_t> out;
  std::vector<uint32_t> seqs;
  size_t off = 0;
  while (off + NLMSG_HDRLEN <= total) {
    // The next chunk: whole messages, contiguous in `requests`.
    size_t start = off;
    seqs.clear();
    while (off + NLMSG_HDRLEN <= total && seqs.size() < chunkMessages) {
      const struct nlmsghdr* h = reinterpret_cast<const struct nlmsghdr*>(data + off);
      if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > total) THROW_TYPE(env, "nlExchange: malformed request");
      size_t next = off + NLMSG_ALIGN(h->nlmsg_len);
      if (!seqs.empty() && next - start > chunkBytes) break;
      seqs.push_back(h->nlmsg_seq);
      off = std::min(next, total);
    }
    int err = SendToKernel(fd, data + start, off - start);
    if (err) THROW_SYS(env, "sendto", err);
    size_t open = seqs.size();
    std::vector<bool> ended(seqs.size(), false);
    bool polled = false;
    while (open > 0) {
      for (int i = 0; i < kSlots; i++) {
        iov[i] = {scratch.data() + i * kSlotBytes, kSlotBytes};
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n;
      do {
        n = recvmmsg(fd, msgs, kSlots, MSG_DONTWAIT, nullptr);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        if (errno != EAGAIN) THROW_SYS(env, "recvmmsg", errno);
        if (polled) break;  // woken without data: treat as the timeout
        struct pollfd p = {fd, POLLIN, 0};
        int r;
        do {
          r = poll(&p, 1, timeout);
        } while (r < 0 && errno == EINTR);
        if (r < 0) THROW_SYS(env, "poll", errno);
        if (r == 0) break;  // timed out: this chunk's missing answers stay missing
        polled = true;
        continue;
      }
      polled = false;
      for (int i = 0; i < n; i++) {
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) THROW_SYS(env, "recvmmsg (netlink datagram larger than 32 KiB)", EMSGSIZE);
        const uint8_t* d = scratch.data() + i * kSlotBytes;
        size_t len = msgs[i].msg_len;
        out.insert(out.end(), d, d + len);
        out.resize(NLMSG_ALIGN(out.size()), 0);
        for (size_t m = 0; m + NLMSG_HDRLEN <= len;) {
          const struct nlmsghdr* h = reinterpret_cast<const struct nlmsghdr*>(d + m);
          if (h->nlmsg_len < NLMSG_HDRLEN || m + h->nlmsg_len > len) break;
          if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
            uint32_t k = h->nlmsg_seq - seqs[0];  // sequence numbers are consecutive within a call (mod 2^32)
            if (k < seqs.size() && seqs[k] == h->nlmsg_seq && !ended[k]) {
              ended[k] = true;
              open--;
            }
          }
          m += NLMSG_ALIGN(h->nlmsg_len);
        }
      }
    }
  }
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (close(fd) < 0) THROW_SYS(env, "close", errno);
  return env.Undefined();
}

// ---- fd watching on the libuv loop --------------------------------------

struct Watch {
  uv_poll_t handle;
  napi_env env;
  Napi::FunctionReference cb;
  bool closed = false;
};

void OnReadable(uv_poll_t* handle, int status, int events) {
  (void)events;
  Watch* w = static_cast<Watch*>(handle->data);
  if (w->closed) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  w->cb.MakeCallback(env.Global(), {Napi::Number::New(env, status)});
}

Napi::Value WatchFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) THROW_TYPE(env, "watch(fd, callback)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) THROW_TYPE(env, "no event loop");
  Watch* w = new Watch();
  w->env = env;
  w->cb = Napi::Persistent(info[1].As<Napi::Function>());
  int r = uv_poll_init(loop, &w->handle, fd);
  if (r == 0) {
    w->handle.data = w;
    r = uv_poll_start(&w->handle, UV_READABLE, OnReadable);
  }
  if (r != 0) {
    delete w;
    THROW_SYS(env, "uv_poll", -r);
  }
  return Napi::External<Watch>::New(env, w);
}

Napi::Value Unwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) THROW_TYPE(env, "unwatch(handle)");
  Watch* w = info[0].As<Napi::External<Watch>>().Data();
  if (w->closed) return env.Undefined();
  w->closed = true;
  w->cb.Reset();
  uv_poll_stop(&w->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
           [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
  return env.Undefined();
}

// ---- TCP connect probes (health checks) ------------------------------------
// keepalived's TCP_CHECK, without a stream object per check: a non-blocking
// connect() watched for writability on the loop, SO_ERROR read, socket closed.
// A probe's memory is freed when both its uv handle is closed and its JS handle
// is collected, so a late tcpProbeCancel() is always safe.

struct Probe {
  uv_poll_t handle;
  napi_env env;
  Napi::FunctionReference cb;
  int fd;
  bool done = false;
  bool handleClosed = false;
  bool jsCollected = false;
};

void MaybeFree(Probe* p) {
  if (p->handleClosed && p->jsCollected) delete p;
}

void FinishProbe(Probe* p) {
  p->done = true;
  p->cb.Reset();
  uv_poll_stop(&p->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), [](uv_handle_t* h) {
    Probe* p = static_cast<Probe*>(h->data);
    close(p->fd);
    p->handleClosed = true;
    MaybeFree(p);
  });
}

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
  FinishProbe(p);
  cb.MakeCallback(env.Global(), {Napi::String::New(env, err ? ErrName(err) : "")});
}

Napi::Value TcpProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsFunction()) THROW_TYPE(env, "tcpProbe(address, port, callback)");
  std::string addr = info[0].As<Napi::String>().Utf8Value();
  uint16_t port = static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value());
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sslen;
  auto* s4 = reinterpret_cast<struct sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    sslen = sizeof *s4;
  } else if (inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    sslen = sizeof *s6;
  } else {
    THROW_TYPE(env, "tcpProbe: not an IPv4 or IPv6 address");
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) THROW_SYS(env, "socket", errno);
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&ss), sslen) < 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return Napi::String::New(env, ErrName(err));
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(fd);
    THROW_TYPE(env, "no event loop");
  }
  Probe* p = new Probe();
  p->env = env;
  p->fd = fd;
  p->cb = Napi::Persistent(info[2].As<Napi::Function>());
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r == 0) {
    p->handle.data = p;
    r = uv_poll_start(&p->handle, UV_WRITABLE, OnProbe);
    if (r != 0) {
      p->jsCollected = true;  // no JS handle will exist: freed when the handle is closed
      FinishProbe(p);
      THROW_SYS(env, "uv_poll_start", -r);
    }
  } else {
    close(fd);
    delete p;
    THROW_SYS(env, "uv_poll_init", -r);
  }
  return Napi::External<Probe>::New(env, p, [](Napi::Env, Probe* p) {
    p->jsCollected = true;
    MaybeFree(p);
  });
}

Napi::Value TcpProbeCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) THROW_TYPE(env, "tcpProbeCancel(handle)");
  Probe* p = info[0].As<Napi::External<Probe>>().Data();
  if (!p->done) FinishProbe(p);
  return env.Undefined();
}

// ---- AF_PACKET -----------------------------------------------------------

int packet_fd = -1;

Napi::Value PacketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) THROW_TYPE(env, "packetSend(ifindex, frame)");
  int ifindex = info[0].As<Napi::Number>().Int32Value();
  auto frame = info[1].As<Napi::Buffer<uint8_t>>();
  if (frame.Length() < 14) THROW_TYPE(env, "frame shorter than an Ethernet header");
  if (packet_fd < 0) {
    // Protocol 0: a send-only socket that never receives (no copy of every frame on the host).
    packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (packet_fd < 0) THROW_SYS(env, "socket(AF_PACKET)", errno);
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex;
  sll.sll_halen = ETH_ALEN;
  memcpy(&sll.sll_protocol, frame.Data() + 12, 2);
  memcpy(sll.sll_addr, frame.Data(), ETH_ALEN);
  ssize_t n;
  do {
    n = sendto(packet_fd, frame.Data(), frame.Length(), 0, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll);
  } while (n < 0 && errno == EINTR);
  if (n < 0) THROW_SYS(env, "sendto(AF_PACKET)", errno);
  return env.Undefined();
}

// ---- AF_UNIX datagrams (sd_notify) ----------------------------------------

Napi::Value UnixDgramSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBuffer()) THROW_TYPE(env, "unixDgramSend(path, buffer)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path) THROW_TYPE(env, "unix socket path empty or too long");
  memcpy(sa.sun_path, path.data(), path.size());
  if (path[0] == '@') sa.sun_path[0] = '\0';
  socklen_t len = offsetof(struct sockaddr_un, sun_path) + path.size();
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) THROW_SYS(env, "socket(AF_UNIX)", errno);
  ssize_t n = sendto(fd, buf.Data(), buf.Length(), 0, reinterpret_cast<struct sockaddr*>(&sa), len);
  int err = errno;
  close(fd);
  if (n < 0) THROW_SYS(env, "sendto(AF_UNIX)", err);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("nlOpen", Napi::Function::New(env, NlOpen));
  exports.Set("nlPortId", Napi::Function::New(env, NlPortId));
  exports.Set("nlRecv", Napi::Function::New(env, NlRecv));
  exports.Set("nlExchange", Napi::Function::New(env, NlExchange));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("watch", Napi::Function::New(env, WatchFd));
  exports.Set("unwatch", Napi::Function::New(env, Unwatch));
  exports.Set("packetSend", Napi::Function::New(env, PacketSend));
  exports.Set("unixDgramSend", Napi::Function::New(env, UnixDgramSend));
  exports.Set("tcpProbe", Napi::Function::New(env, TcpProbe));
  exports.Set("tcpProbeCancel", Napi::Function::New(env, TcpProbeCancel));
  return exports;
}

}  // namespace

NODE_API_MODULE(vipd_native, Init)
