// vipd's native addon: socket I/O, and one parser. Everything else above the
// socket (building and parsing netlink messages, ARP frames) is TypeScript, unit
// tested without root; the parser, of IPVS dumps (ipvs_dump.cc), is here
// because a reconcile decodes every service and real server of the table.
//
//   nlOpen(protocol, groups)         -> fd     AF_NETLINK socket, bound to multicast groups
//   nlExchange(fd, requests, chunkMessages, chunkBytes, timeoutMs) -> Buffer
//                                             requests sent several per datagram, answers read
//                                             until each has its DONE/ERROR; all answers, concatenated
//   ipvsDests(answers, firstSeq, status, starts, withStats) -> Uint32Array
//   ipvsServices(answers, firstSeq, status, starts, withStats) -> Uint32Array
//                                             the real servers (services) in answers to IPVS
//                                             GET_DEST (GET_SERVICE) dumps, as records of
//                                             32-bit words (ipvs_dump.cc)
//   nlRecv(fd)                       -> Buffer|null   one queued datagram; null when none is
//   nlPortId(fd)                     -> number the socket's netlink port id
//   watch(fd, cb)                    -> handle  cb() whenever fd is readable (uv_poll)
//   unwatch(handle)
//   close(fd)
//   packetSend(ifindex, frame)                one Ethernet frame through AF_PACKET (SOCK_RAW)
//   unixDgramSend(path, buf)                  one datagram to a unix socket ('@' = abstract)
//   tcpProbe, tcpProbeCancel, udpOpen, sockSend, sockRecv   health-check sockets: check_socket.cc
//   tcpExchange(...), tcpExchangeCancel(handle)  one request and its answer on a TCP
//                                             connection (tcp_exchange.cc)
//   vrrp6Open(ifname, ifindex)       -> fd     raw IPv6 socket for VRRP (protocol 112) on one
//                                             interface: hop limit 255, traffic class 0xc0, no
//                                             loopback, ff02::12 joined, hop limit and
//                                             destination reported on receive
//   vrrp6Recv(fd)                    -> {src, dst, hopLimit, ifindex, payload} | null
//                                             one queued datagram (src/dst 16-byte buffers)
//   vrrp6Send(fd, src, dst, ifindex, payload)  one datagram from `src` (IPV6_PKTINFO) to `dst`
//   procConnOpen(rcvbuf)             -> fd     the kernel's process connector (NETLINK_CONNECTOR,
//                                             CN_IDX_PROC), non-blocking, subscribed with
//                                             PROC_CN_MCAST_LISTEN (fails where the kernel will
//                                             not deliver: ECONNREFUSED outside the initial
//                                             network namespace, EPERM without privilege)
//   procConnRecv(fd)                 -> [{what, pid, tgid, parentTgid?, comm?}] | null
//                                             the events of one queued datagram (fork, exec,
//                                             comm, exit; others dropped); null when none is
//                                             queued; ENOBUFS thrown when the kernel dropped some
//   procConnClose(fd)                         PROC_CN_MCAST_IGNORE, then close
//
// Errors are thrown as Error with `code` ('EPERM', 'ENODEV', ...), `errno` and `syscall`.

#include <napi.h>
#include <algorithm>
#include <vector>
#include <uv.h>
#include "poll_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <net/ethernet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

void InitTcpExchange(Napi::Env env, Napi::Object exports);  // tcp_exchange.cc

namespace {

using vipd::ErrName;
using vipd::SysError;

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

/** Stops and closes the watch (once); its memory goes with the close callback. */
void CloseWatch(Watch* w) {
  if (w->closed) return;
  w->closed = true;
  w->cb.Reset();
  uv_poll_stop(&w->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), [](uv_handle_t* h) {
    polltrack::Untrack(h->data);
    delete static_cast<Watch*>(h->data);
  });
}

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
  polltrack::Track(env, w, [](void* p) { CloseWatch(static_cast<Watch*>(p)); });  // closed at teardown if still open
  return Napi::External<Watch>::New(env, w);
}

Napi::Value Unwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) THROW_TYPE(env, "unwatch(handle)");
  CloseWatch(info[0].As<Napi::External<Watch>>().Data());
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

// ---- VRRP over IPv6 ----------------------------------------------------------
// A raw IPv6 socket cannot take a header from us (no IP_HDRINCL equivalent that
// keeps the kernel's routing), so the hop limit, traffic class and source go
// through socket options and IPV6_PKTINFO, and the hop limit and destination
// of what arrives come back as ancillary data. The checksum is the caller's
// (IPV6_CHECKSUM stays off: a bad one is counted by the decoder, not dropped
// silently by the kernel).

constexpr int kVrrpProto = 112;

/** A msghdr for one IPv6 datagram: its peer, one buffer, room for ancillary data. */
struct msghdr Msghdr(struct sockaddr_in6* peer, struct iovec* iov, uint8_t* control, size_t controllen) {
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = peer;
  mh.msg_namelen = sizeof *peer;
  mh.msg_iov = iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = controllen;
  return mh;
}

Napi::Value Vrrp6Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) THROW_TYPE(env, "vrrp6Open(ifname, ifindex)");
  std::string ifname = info[0].As<Napi::String>().Utf8Value();
  int ifindex = info[1].As<Napi::Number>().Int32Value();
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) THROW_TYPE(env, "vrrp6Open: interface name empty or too long");
  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kVrrpProto);
  if (fd < 0) THROW_SYS(env, "socket(AF_INET6, SOCK_RAW, 112)", errno);
  int hops = 255, zero = 0, one = 1, tclass = 0xc0;
  struct ipv6_mreq mreq;
  memset(&mreq, 0, sizeof mreq);
  inet_pton(AF_INET6, "ff02::12", &mreq.ipv6mr_multiaddr);
  mreq.ipv6mr_interface = ifindex;
  struct {
    int level, name;
    const void* val;
    socklen_t len;
    const char* what;
  } opts[] = {
      {SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size() + 1), "setsockopt(SO_BINDTODEVICE)"},
      {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops, "setsockopt(IPV6_MULTICAST_HOPS)"},
      {IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops, "setsockopt(IPV6_UNICAST_HOPS)"},
      {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero, "setsockopt(IPV6_MULTICAST_LOOP)"},
      {IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex, "setsockopt(IPV6_MULTICAST_IF)"},
      {IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass, "setsockopt(IPV6_TCLASS)"},
      {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one, "setsockopt(IPV6_RECVHOPLIMIT)"},
      {IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one, "setsockopt(IPV6_RECVPKTINFO)"},
      {IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof mreq, "setsockopt(IPV6_ADD_MEMBERSHIP ff02::12)"},
  };
  for (const auto& o : opts) {
    if (setsockopt(fd, o.level, o.name, o.val, o.len) < 0) {
      int err = errno;
      close(fd);
      THROW_SYS(env, o.what, err);
    }
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Vrrp6Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) THROW_TYPE(env, "vrrp6Recv(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint8_t buf[65536];
  alignas(struct cmsghdr) uint8_t control[256];
  struct sockaddr_in6 from;
  struct iovec iov = {buf, sizeof buf};
  struct msghdr mh = Msghdr(&from, &iov, control, sizeof control);
  ssize_t n;
  do {
    n = recvmsg(fd, &mh, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return env.Null();
    THROW_SYS(env, "recvmsg", errno);
  }
  int hopLimit = -1;
  int ifindex = 0;
  struct in6_addr dst;
  memset(&dst, 0, sizeof dst);
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) memcpy(&hopLimit, CMSG_DATA(c), sizeof(int));
    if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      dst = pi.ipi6_addr;
      ifindex = pi.ipi6_ifindex;
    }
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("src", Napi::Buffer<uint8_t>::Copy(env, from.sin6_addr.s6_addr, 16));
  out.Set("dst", Napi::Buffer<uint8_t>::Copy(env, dst.s6_addr, 16));
  out.Set("hopLimit", Napi::Number::New(env, hopLimit));
  out.Set("ifindex", Napi::Number::New(env, ifindex));
  out.Set("truncated", Napi::Boolean::New(env, (mh.msg_flags & MSG_TRUNC) != 0));
  out.Set("payload", Napi::Buffer<uint8_t>::Copy(env, buf, n));
  return out;
}

Napi::Value Vrrp6Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsString() || !info[3].IsNumber() || !info[4].IsBuffer())
    THROW_TYPE(env, "vrrp6Send(fd, src, dst, ifindex, payload)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string src = info[1].As<Napi::String>().Utf8Value();
  std::string dst = info[2].As<Napi::String>().Utf8Value();
  int ifindex = info[3].As<Napi::Number>().Int32Value();
  auto payload = info[4].As<Napi::Buffer<uint8_t>>();
  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  struct in6_pktinfo pi;
  memset(&pi, 0, sizeof pi);
  if (inet_pton(AF_INET6, dst.c_str(), &to.sin6_addr) != 1) THROW_TYPE(env, "vrrp6Send: dst is not an IPv6 address");
  if (inet_pton(AF_INET6, src.c_str(), &pi.ipi6_addr) != 1) THROW_TYPE(env, "vrrp6Send: src is not an IPv6 address");
  // Link-local and multicast destinations need the interface as their scope.
  to.sin6_scope_id = ifindex;
  pi.ipi6_ifindex = ifindex;
  alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(sizeof pi)];
  memset(control, 0, sizeof control);
  struct iovec iov = {payload.Data(), payload.Length()};
  struct msghdr mh = Msghdr(&to, &iov, control, sizeof control);
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof pi);
  memcpy(CMSG_DATA(c), &pi, sizeof pi);
  ssize_t n;
  do {
    n = sendmsg(fd, &mh, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) THROW_SYS(env, "sendmsg", errno);
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

// ---- the process connector (keepalived's track_process) -------------------

// One PROC_CN_MCAST_LISTEN / IGNORE request: nlmsghdr, cn_msg, the operation.
int ProcConnControl(int fd, enum proc_cn_mcast_op op) {
  constexpr size_t kLen = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op));
  alignas(NLMSG_ALIGNTO) uint8_t buf[NLMSG_ALIGN(kLen)];
  memset(buf, 0, sizeof buf);
  struct nlmsghdr* nl = reinterpret_cast<struct nlmsghdr*>(buf);
  nl->nlmsg_len = kLen;
  nl->nlmsg_type = NLMSG_DONE;
  struct cn_msg* cn = static_cast<struct cn_msg*>(NLMSG_DATA(nl));
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(enum proc_cn_mcast_op);
  memcpy(cn->data, &op, sizeof op);
  return SendToKernel(fd, buf, kLen);
}

Napi::Value ProcConnOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) THROW_TYPE(env, "procConnOpen(rcvbuf)");
  int rcvbuf = info[0].As<Napi::Number>().Int32Value();
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) THROW_SYS(env, "socket(NETLINK_CONNECTOR)", errno);
  // A burst of exits (a thousand workers stopping) overflows the default buffer.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = CN_IDX_PROC;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
    int err = errno;
    close(fd);
    THROW_SYS(env, "bind(NETLINK_CONNECTOR, CN_IDX_PROC)", err);
  }
  int err = ProcConnControl(fd, PROC_CN_MCAST_LISTEN);
  if (err != 0) {
    close(fd);
    THROW_SYS(env, "send(PROC_CN_MCAST_LISTEN)", err);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value ProcConnRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) THROW_TYPE(env, "procConnRecv(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::vector<uint8_t>& scratch = Scratch();
  struct sockaddr_nl from;
  socklen_t fromLen = sizeof from;
  ssize_t n;
  do {
    n = recvfrom(fd, scratch.data(), scratch.size(), MSG_DONTWAIT, reinterpret_cast<struct sockaddr*>(&from), &fromLen);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return env.Null();
    THROW_SYS(env, "recv(NETLINK_CONNECTOR)", errno);
  }
  Napi::Array out = Napi::Array::New(env);
  if (from.nl_pid != 0) return out;  // only the kernel speaks here
  uint32_t k = 0;
  int len = static_cast<int>(n);
  for (struct nlmsghdr* nh = reinterpret_cast<struct nlmsghdr*>(scratch.data()); NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
    if (nh->nlmsg_type == NLMSG_ERROR || nh->nlmsg_type == NLMSG_NOOP) continue;
    if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event))) continue;
    struct cn_msg* cn = static_cast<struct cn_msg*>(NLMSG_DATA(nh));
    if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
    struct proc_event* ev = reinterpret_cast<struct proc_event*>(cn->data);
    Napi::Object o = Napi::Object::New(env);
    switch (ev->what) {
      case proc_event::PROC_EVENT_FORK:
        o.Set("what", "fork");
        o.Set("pid", ev->event_data.fork.child_pid);
        o.Set("tgid", ev->event_data.fork.child_tgid);
        o.Set("parentTgid", ev->event_data.fork.parent_tgid);
        break;
      case proc_event::PROC_EVENT_EXEC:
        o.Set("what", "exec");
        o.Set("pid", ev->event_data.exec.process_pid);
        o.Set("tgid", ev->event_data.exec.process_tgid);
        break;
      case proc_event::PROC_EVENT_COMM: {
        o.Set("what", "comm");
        o.Set("pid", ev->event_data.comm.process_pid);
        o.Set("tgid", ev->event_data.comm.process_tgid);
        const char* c = ev->event_data.comm.comm;
        o.Set("comm", std::string(c, strnlen(c, sizeof ev->event_data.comm.comm)));
        break;
      }
      case proc_event::PROC_EVENT_EXIT:
        o.Set("what", "exit");
        o.Set("pid", ev->event_data.exit.process_pid);
        o.Set("tgid", ev->event_data.exit.process_tgid);
        break;
      default:
        continue;
    }
    out.Set(k++, o);
  }
  return out;
}

Napi::Value ProcConnClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) THROW_TYPE(env, "procConnClose(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  ProcConnControl(fd, PROC_CN_MCAST_IGNORE);  // best effort: the kernel counts listeners
  if (close(fd) < 0) THROW_SYS(env, "close", errno);
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
  vipd::InitCheckSockets(env, exports);
  vipd::InitIpvsDump(env, exports);
  exports.Set("vrrp6Open", Napi::Function::New(env, Vrrp6Open));
  exports.Set("vrrp6Recv", Napi::Function::New(env, Vrrp6Recv));
  exports.Set("vrrp6Send", Napi::Function::New(env, Vrrp6Send));
  exports.Set("procConnOpen", Napi::Function::New(env, ProcConnOpen));
  exports.Set("procConnRecv", Napi::Function::New(env, ProcConnRecv));
  exports.Set("procConnClose", Napi::Function::New(env, ProcConnClose));
  InitTcpExchange(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vipd_native, Init)
