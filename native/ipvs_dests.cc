// The one parser in the addon: IPVS real-server dumps (GET_DEST replies) read
// into a flat table of numbers. Everything else above the socket is TypeScript;
// this is here because a reconcile dumps every real server (10,000 of them in a
// large table) and decoding them in JavaScript was most of a no-op reconcile on
// a slow CPU. A pure function over the answers nlExchange returned: unit tested
// without root (test/unit/ipvs-dests.test.ts) against the TypeScript encoder.
//
//   ipvsDests(answers, firstSeq, status, starts, withStats) -> Uint32Array
//     answers    nlExchange's Buffer for requests with sequence numbers firstSeq,
//                firstSeq + 1, ... (one per element of `status`)
//     status     Int32Array, filled per request: 1 ended (NLMSG_DONE, or an ACK),
//                -1 the kernel answered an error, 0 no end seen
//     starts     Uint32Array of status.length + 1, filled: request i's real servers
//                are records starts[i] .. starts[i + 1] - 1
//     withStats  read the counters (STATS64, else STATS)
//   Each record is kStride 32-bit words, fields as IpvsDestField below (the
//   TypeScript side, src/ipvs/dest-records.ts, names the same offsets; the
//   addon exports the stride so a mismatch fails loudly). A message without a
//   real server (no IPVS_CMD_ATTR_DEST) makes no record.

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
constexpr uint16_t kCmdAttrDest = 2;
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

void Decode(const uint8_t* nest, const uint8_t* end, bool withStats, uint32_t* r) {
  Attr a[kDestAttrMax + 1];
  Index(nest, end, a);
  r[fFamily] = a[kAddrFamily].v ? U16(a[kAddrFamily]) : kAbsent;
  r[fAddrLen] = static_cast<uint32_t>(a[kAddr].len);
  uint8_t addr[16] = {0};
  if (a[kAddr].v) memcpy(addr, a[kAddr].v, std::min<size_t>(a[kAddr].len, 16));
  for (int w = 0; w < 4; w++) r[fAddr0 + w] = Be32(addr + 4 * w);
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
  const Attr& st = a[kStats64].v ? a[kStats64] : a[kStats];
  r[fHasStats] = withStats && st.v ? 1 : 0;
  for (int k = 0; k < 20; k++) r[fStats0 + k] = 0;
  if (r[fHasStats] != 0) {
    Attr s[11];
    Index(st.v, st.v + st.len, s);
    // A 64-bit counter; a 32-bit one (IPVS_DEST_ATTR_STATS) is accepted too.
    for (int k = 0; k < 10; k++) {
      r[fStats0 + 2 * k] = U32(s[k + 1]);
      r[fStats0 + 2 * k + 1] = s[k + 1].len >= 8 ? Le32(s[k + 1].v + 4) : 0;
    }
  }
}

Napi::Value IpvsDests(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsBuffer() || !info[1].IsNumber() || !info[2].IsTypedArray() || !info[3].IsTypedArray())
    THROW_TYPE(env, "ipvsDests(answers, firstSeq, status, starts, withStats)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  uint32_t first = info[1].As<Napi::Number>().Uint32Value();
  auto status = info[2].As<Napi::Int32Array>();
  auto starts = info[3].As<Napi::Uint32Array>();
  bool withStats = info[4].ToBoolean().Value();
  size_t n = status.ElementLength();
  if (status.TypedArrayType() != napi_int32_array || starts.TypedArrayType() != napi_uint32_array || starts.ElementLength() != n + 1)
    THROW_TYPE(env, "ipvsDests: status must be an Int32Array and starts a Uint32Array one longer");
  for (size_t i = 0; i < n; i++) status[i] = 0;

  const uint8_t* data = buf.Data();
  size_t total = buf.Length();
  std::vector<uint32_t> recs;
  std::vector<uint32_t> owner;  // the request of each record
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
    if (h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_OVERRUN) continue;
    // The real server: IPVS_CMD_ATTR_DEST among the command's attributes.
    const uint8_t* p = reinterpret_cast<const uint8_t*>(h) + NLMSG_HDRLEN + kGenlHdrLen;
    Attr cmd[kCmdAttrDest + 1];
    if (p <= end) Index(p, end, cmd);
    if (!cmd[kCmdAttrDest].v) continue;
    size_t at = recs.size();
    recs.resize(at + kStride);
    Decode(cmd[kCmdAttrDest].v, cmd[kCmdAttrDest].v + cmd[kCmdAttrDest].len, withStats, recs.data() + at);
    if (!owner.empty() && owner.back() > i) ordered = false;
    owner.push_back(i);
  }

  // Grouped by request (they come so: one dump at a time), in the order the kernel sent them.
  size_t count = owner.size();
  std::vector<uint32_t> order(count);
  for (size_t k = 0; k < count; k++) order[k] = static_cast<uint32_t>(k);
  if (!ordered) std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return owner[x] < owner[y]; });
  for (size_t i = 0; i <= n; i++) starts[i] = 0;
  for (size_t k = 0; k < count; k++) starts[owner[k] + 1]++;
  for (size_t i = 0; i < n; i++) starts[i + 1] += starts[i];

  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, count * kStride * sizeof(uint32_t));
  uint32_t* out = static_cast<uint32_t*>(ab.Data());
  for (size_t k = 0; k < count; k++) memcpy(out + k * kStride, recs.data() + order[k] * kStride, kStride * sizeof(uint32_t));
  return Napi::Uint32Array::New(env, count * kStride, ab, 0);
}

}  // namespace

void InitIpvsDests(Napi::Env env, Napi::Object exports) {
  exports.Set("ipvsDests", Napi::Function::New(env, IpvsDests));
  exports.Set("ipvsDestStride", Napi::Number::New(env, kStride));
}

}  // namespace vipd
