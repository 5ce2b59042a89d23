// The one parser in the addon: IPVS dumps (GET_SERVICE and GET_DEST replies)
// read into flat tables of numbers. Everything else above the socket is
// TypeScript; this is here because a reconcile dumps every service and real
// server (10,000 of them in a large table) and decoding them in JavaScript was
// most of a no-op reconcile on a slow CPU. Pure functions over the answers
// nlExchange returned: unit tested without root (test/unit/ipvs-dests.test.ts)
// against the TypeScript encoder.
//
//   ipvsDests(answers, firstSeq, status, starts, withStats) -> Uint32Array
//   ipvsServices(answers, firstSeq, status, starts, withStats) -> Uint32Array
//     answers    nlExchange's Buffer for requests with sequence numbers firstSeq,
//                firstSeq + 1, ... (one per element of `status`)
//     status     Int32Array, filled per request: 1 ended (NLMSG_DONE, or an ACK),
//                -1 the kernel answered an error, 0 no end seen
//     starts     Uint32Array of status.length + 1, filled: request i's records
//                are starts[i] .. starts[i + 1] - 1
//     withStats  read the counters (STATS64, else STATS)
//   Each record is a fixed number of 32-bit words, fields as IpvsDestField and
//   IpvsServiceField below (the TypeScript side, src/ipvs/dump-records.ts, names
//   the same offsets; the addon exports the strides so a mismatch fails loudly);
//   without withStats, the lean stride: the same fields up to the counters. A
//   message without a real server (no IPVS_CMD_ATTR_DEST) or service
//   (IPVS_CMD_ATTR_SERVICE) makes no record.

#include <napi.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <algorithm>
#include <vector>

#include "common.h"

namespace vipd {
namespace {

// linux/ip_vs.h
constexpr uint16_t kCmdAttrService = 1;
constexpr uint16_t kCmdAttrDest = 2;
enum SvcAttr : uint16_t {
  kSvcAf = 1, kSvcProtocol, kSvcAddr, kSvcPort, kSvcFwmark, kSvcSchedName, kSvcFlags, kSvcTimeout, kSvcNetmask,
  kSvcStats, kSvcPeName, kSvcStats64, kSvcAttrMax = kSvcStats64
};
enum DestAttr : uint16_t {
  kAddr = 1, kPort, kFwdMethod, kWeight, kUThresh, kLThresh, kActiveConns, kInactConns, kPersistConns,
  kStats, kAddrFamily, kStats64, kTunType, kTunPort, kTunFlags, kDestAttrMax = kTunFlags
};
constexpr size_t kGenlHdrLen = 4;
constexpr size_t kNlaHdrLen = 4;
constexpr uint16_t kNlaTypeMask = 0x3fff;  // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

// Record fields, 32-bit words (src/ipvs/dest-records.ts has the same list).
// Words, not doubles: an emulated CPU converts to floating point in software.
constexpr uint32_t kAbsent = 0xffffffff;
enum IpvsDestField {
  fFamily,     // IPVS_DEST_ATTR_ADDR_FAMILY, or kAbsent (the service's family)
  fAddrLen,    // length of IPVS_DEST_ATTR_ADDR's value (0 when absent)
  fAddr0,      // the address, four 32-bit words in network order read big-endian
  fAddr1,
  fAddr2,
  fAddr3,
  fPort,
  fFwd,
  fWeight,
  fUThresh,
  fLThresh,
  fActive,
  fInactive,
  fPersistent,
  fTunType,    // kAbsent when absent
  fTunPort,
  fTunFlags,
  fHasStats,   // 1 when the counters below were read
  fStats0,     // connections, packets in/out, bytes in/out, cps, pps in/out, bps in/out:
               // 64 bits each, low word first
  kStride = fStats0 + 20,
  kLeanStride = fStats0,  // without the counters
};

// Service record fields (src/ipvs/dump-records.ts has the same list).
enum IpvsServiceField {
  sFamily,      // IPVS_SVC_ATTR_AF (0 when absent)
  sProtocol,
  sAddrLen,     // as fAddrLen
  sAddr0,
  sAddr1,
  sAddr2,
  sAddr3,
  sPort,
  sFwmark,      // 0 when absent
  sFlags,       // the flags word of struct ip_vs_flags
  sTimeout,
  sNetmaskLen,
  sNetmask,     // its first four bytes read big-endian
  sSchedLen,    // the scheduler's name: its length up to a NUL, then its bytes, four to a word, first byte lowest
  sSched0,
  kSchedWords = 4,
  sPeLen = sSched0 + kSchedWords,  // the persistence engine's name, the same way
  sPe0,
  sHasStats = sPe0 + kSchedWords,
  sStats0,      // as fStats0
  kServiceStride = sStats0 + 20,
  kServiceLeanStride = sStats0,
};

inline uint32_t Le16(const uint8_t* p) { return p[0] | (p[1] << 8); }
inline uint32_t Le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
inline uint32_t Be32(const uint8_t* p) { return (static_cast<uint32_t>(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }
inline size_t Align4(size_t n) { return (n + 3) & ~static_cast<size_t>(3); }

struct Attr {
  const uint8_t* v = nullptr;
  size_t len = 0;
};

// Indexes attributes [p, end) by type, up to maxType (the last of a type wins; a malformed one ends the walk).
template <size_t N>
void Index(const uint8_t* p, const uint8_t* end, Attr (&out)[N]) {
  while (p + kNlaHdrLen <= end) {
    size_t len = Le16(p);
    if (len < kNlaHdrLen || p + len > end) break;
    uint16_t type = Le16(p + 2) & kNlaTypeMask;
    if (type < N) out[type] = {p + kNlaHdrLen, len - kNlaHdrLen};
    p += Align4(len);
  }
}

inline uint32_t U8(const Attr& a) { return a.len >= 1 ? a.v[0] : 0; }
inline uint32_t U16(const Attr& a) { return a.len >= 2 ? Le16(a.v) : 0; }
inline uint32_t Be16(const Attr& a) { return a.len >= 2 ? (a.v[0] << 8) | a.v[1] : 0; }
inline uint32_t U32(const Attr& a) { return a.len >= 4 ? Le32(a.v) : 0; }

// An address attribute (union nf_inet_addr) at r[0] (its length) and r[1..4] (four words read big-endian).
void Address(const Attr& a, uint32_t* r) {
  r[0] = static_cast<uint32_t>(a.len);
  uint8_t addr[16] = {0};
  if (a.v) memcpy(addr, a.v, std::min<size_t>(a.len, 16));
  for (int w = 0; w < 4; w++) r[1 + w] = Be32(addr + 4 * w);
}

// The counters of a STATS64 (or STATS) nest at r[0] (1 when read) and r[1..20]:
// ten 64-bit counters, low word first (a 32-bit counter is accepted too). Without
// withStats only r[0], 0: a lean record ends there.
void Counters(const Attr& st, bool withStats, uint32_t* r) {
  r[0] = withStats && st.v ? 1 : 0;
  if (!withStats) return;
  for (int k = 0; k < 20; k++) r[1 + k] = 0;
  if (!st.v) return;
  Attr s[11];
  Index(st.v, st.v + st.len, s);
  for (int k = 0; k < 10; k++) {
    r[1 + 2 * k] = U32(s[k + 1]);
    r[1 + 2 * k + 1] = s[k + 1].len >= 8 ? Le32(s[k + 1].v + 4) : 0;
  }
}

void Decode(const uint8_t* nest, const uint8_t* end, bool withStats, uint32_t* r) {
  Attr a[kDestAttrMax + 1];
  Index(nest, end, a);
  r[fFamily] = a[kAddrFamily].v ? U16(a[kAddrFamily]) : kAbsent;
  Address(a[kAddr], r + fAddrLen);
  r[fPort] = Be16(a[kPort]);
  r[fFwd] = U32(a[kFwdMethod]);
  r[fWeight] = U32(a[kWeight]);
  r[fUThresh] = U32(a[kUThresh]);
  r[fLThresh] = U32(a[kLThresh]);
  r[fActive] = U32(a[kActiveConns]);
  r[fInactive] = U32(a[kInactConns]);
  r[fPersistent] = U32(a[kPersistConns]);
  r[fTunType] = a[kTunType].v ? U8(a[kTunType]) : kAbsent;
  r[fTunPort] = Be16(a[kTunPort]);
  r[fTunFlags] = U16(a[kTunFlags]);
  Counters(a[kStats64].v ? a[kStats64] : a[kStats], withStats, r + fHasStats);
}

// The name in an attribute (up to a NUL, at most 16 bytes) at r[0] (length) and r[1..4].
void Name(const Attr& a, uint32_t* r) {
  uint8_t b[16] = {0};
  size_t n = 0;
  while (n < a.len && n < sizeof b && a.v[n] != 0) b[n] = a.v[n], n++;
  r[0] = static_cast<uint32_t>(n);
  for (int w = 0; w < 4; w++) r[1 + w] = Le32(b + 4 * w);
}

void DecodeService(const uint8_t* nest, const uint8_t* end, bool withStats, uint32_t* r) {
  Attr a[kSvcAttrMax + 1];
  Index(nest, end, a);
  r[sFamily] = U16(a[kSvcAf]);
  r[sProtocol] = U16(a[kSvcProtocol]);
  Address(a[kSvcAddr], r + sAddrLen);
  r[sPort] = Be16(a[kSvcPort]);
  r[sFwmark] = U32(a[kSvcFwmark]);
  r[sFlags] = U32(a[kSvcFlags]);
  r[sTimeout] = U32(a[kSvcTimeout]);
  r[sNetmaskLen] = static_cast<uint32_t>(a[kSvcNetmask].len);
  r[sNetmask] = a[kSvcNetmask].len >= 4 ? Be32(a[kSvcNetmask].v) : 0;
  Name(a[kSvcSchedName], r + sSchedLen);
  Name(a[kSvcPeName], r + sPeLen);
  Counters(a[kSvcStats64].v ? a[kSvcStats64] : a[kSvcStats], withStats, r + sHasStats);
}

using Decoder = void (*)(const uint8_t*, const uint8_t*, bool, uint32_t*);

// The records of the messages carrying command attribute `cmdAttr`, `decode`d into `stride` words each (`lean` without counters).
Napi::Value Records(const Napi::CallbackInfo& info, uint16_t cmdAttr, Decoder decode, size_t full, size_t lean) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsBuffer() || !info[1].IsNumber() || !info[2].IsTypedArray() || !info[3].IsTypedArray())
    THROW_TYPE(env, "ipvsDests/ipvsServices(answers, firstSeq, status, starts, withStats)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  uint32_t first = info[1].As<Napi::Number>().Uint32Value();
  auto status = info[2].As<Napi::Int32Array>();
  auto starts = info[3].As<Napi::Uint32Array>();
  bool withStats = info[4].ToBoolean().Value();
  size_t n = status.ElementLength();
  if (status.TypedArrayType() != napi_int32_array || starts.TypedArrayType() != napi_uint32_array || starts.ElementLength() != n + 1)
    THROW_TYPE(env, "ipvsDests/ipvsServices: status must be an Int32Array and starts a Uint32Array one longer");
  for (size_t i = 0; i < n; i++) status[i] = 0;

  const uint8_t* data = buf.Data();
  size_t total = buf.Length();
  // First pass: how many data messages (an upper bound on the records). The records are
  // then written where they stay: a vector grown and copied out made the call twice as
  // slow, mostly page faults on fresh memory.
  size_t bound = 0;
  for (size_t off = 0; off + NLMSG_HDRLEN <= total;) {
    const struct nlmsghdr* h = reinterpret_cast<const struct nlmsghdr*>(data + off);
    if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > total) break;
    off += NLMSG_ALIGN(h->nlmsg_len);
    if (h->nlmsg_type >= NLMSG_MIN_TYPE && h->nlmsg_seq - first < n) bound++;
  }
  const size_t stride = withStats ? full : lean;
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bound * stride * sizeof(uint32_t));
  uint32_t* out = static_cast<uint32_t*>(ab.Data());
  std::vector<uint32_t> owner;  // the request of each record
  owner.reserve(bound);
  bool ordered = true;
  for (size_t off = 0; off + NLMSG_HDRLEN <= total;) {
    const struct nlmsghdr* h = reinterpret_cast<const struct nlmsghdr*>(data + off);
    if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > total) break;
    const uint8_t* end = data + off + h->nlmsg_len;
    uint32_t i = h->nlmsg_seq - first;  // mod 2^32: a stale answer from before falls outside
    off += NLMSG_ALIGN(h->nlmsg_len);
    if (i >= n) continue;
    if (h->nlmsg_type == NLMSG_DONE) {
      if (status[i] == 0) status[i] = 1;
      continue;
    }
    if (h->nlmsg_type == NLMSG_ERROR) {
      const uint8_t* body = reinterpret_cast<const uint8_t*>(h) + NLMSG_HDRLEN;  // struct nlmsgerr: the error first
      int32_t err = h->nlmsg_len >= NLMSG_HDRLEN + 4 ? static_cast<int32_t>(Le32(body)) : 0;
      if (err != 0) status[i] = -1;
      else if (status[i] == 0) status[i] = 1;
      continue;
    }
    if (h->nlmsg_type < NLMSG_MIN_TYPE) continue;  // NLMSG_NOOP, NLMSG_OVERRUN, reserved
    // The real server (service): IPVS_CMD_ATTR_DEST (_SERVICE) among the command's attributes.
    const uint8_t* p = reinterpret_cast<const uint8_t*>(h) + NLMSG_HDRLEN + kGenlHdrLen;
    Attr cmd[kCmdAttrDest + 1];
    if (p <= end) Index(p, end, cmd);
    const Attr& nest = cmd[cmdAttr];
    if (!nest.v) continue;
    decode(nest.v, nest.v + nest.len, withStats, out + owner.size() * stride);
    if (!owner.empty() && owner.back() > i) ordered = false;
    owner.push_back(i);
  }
  // Grouped by request (they come so: one dump at a time), in the order the kernel sent them.
  size_t count = owner.size();
  if (!ordered) {
    std::vector<uint32_t> order(count);
    for (size_t k = 0; k < count; k++) order[k] = static_cast<uint32_t>(k);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return owner[x] < owner[y]; });
    std::vector<uint32_t> copy(out, out + count * stride);
    for (size_t k = 0; k < count; k++) memcpy(out + k * stride, copy.data() + order[k] * stride, stride * sizeof(uint32_t));
  }
  for (size_t i = 0; i <= n; i++) starts[i] = 0;
  for (size_t k = 0; k < count; k++) starts[owner[k] + 1]++;
  for (size_t i = 0; i < n; i++) starts[i + 1] += starts[i];
  return Napi::Uint32Array::New(env, count * stride, ab, 0);
}

Napi::Value IpvsDests(const Napi::CallbackInfo& info) { return Records(info, kCmdAttrDest, Decode, kStride, kLeanStride); }
Napi::Value IpvsServices(const Napi::CallbackInfo& info) { return Records(info, kCmdAttrService, DecodeService, kServiceStride, kServiceLeanStride); }

}  // namespace

void InitIpvsDump(Napi::Env env, Napi::Object exports) {
  exports.Set("ipvsDests", Napi::Function::New(env, IpvsDests));
  exports.Set("ipvsServices", Napi::Function::New(env, IpvsServices));
  exports.Set("ipvsServiceStride", Napi::Number::New(env, kServiceStride));
  exports.Set("ipvsServiceLeanStride", Napi::Number::New(env, kServiceLeanStride));
  exports.Set("ipvsDestStride", Napi::Number::New(env, kStride));
  exports.Set("ipvsDestLeanStride", Napi::Number::New(env, kLeanStride));
}

}  // namespace vipd
