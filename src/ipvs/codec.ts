// IPVS generic netlink messages (linux/ip_vs.h): pure builders and parsers,
// tested byte for byte without root. The kernel's rules this follows
// (net/netfilter/ipvs/ip_vs_ctl.c):
// - a service is named by AF + protocol + address + port, or AF + fwmark;
// - NEW/SET_SERVICE need the full entry: scheduler, flags, timeout, netmask;
// - NEW/SET_DEST need forwarding, weight and both thresholds; DEL_DEST only the address and port;
// - addresses are 16 bytes (union nf_inet_addr), ports and the netmask network order.

import { GENL_HDRLEN, genlAttrs, genlBody, genlWritten } from '../net/genl.js';
import { inetAddrBytes, inetAddrText, writeInetAddr } from '../net/inet.js';
import { attrBe16, attrNested, attrStr, attrU16, attrU32, attrU8, type Attr, AttrView, type Body, NLA_F_NESTED, NLA_HDRLEN, type NlMessage } from '../net/netlink.js';
import type { Dest, DestKey, Family, Forwarding, Protocol, Service, ServiceKey, SyncDaemon, Timeouts, TunnelType } from './types.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

const CMD_ATTR = { SERVICE: 1, DEST: 2, DAEMON: 3, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 } as const;
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE_NAME: 11, STATS64: 12 } as const;
const DEST = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
const DAEMON = { STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7, MCAST_TTL: 8 } as const;
const INFO = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const PROTO: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };
export const FWD: Record<Forwarding, number> = { nat: 0, tunnel: 2, dr: 3 };
export const TUN: Record<TunnelType, number> = { ipip: 0, gue: 1, gre: 2 };
export const SVC_F_PERSISTENT = 0x1;
export const SVC_F_HASHED = 0x2;
export const SVC_F_ONEPACKET = 0x4;
export const SVC_F_SCHED1 = 0x8; // sh/mh fallback
export const SVC_F_SCHED2 = 0x10; // sh/mh port
const TUN_F_NOCSUM = 0x0;
export const TUN_F_CSUM = 0x1;
export const TUN_F_REMCSUM = 0x2;
const SYNC_STATE = { master: 1, backup: 2 } as const;

const af = (f: Family) => (f === 'inet' ? AF_INET : AF_INET6);

/** Attributes that name a service (enough for DEL_SERVICE, GET and as the parent of a dest). */
export function serviceKeyAttrs(k: ServiceKey): Attr[] {
  const out = [attrU16(SVC.AF, af(k.family))];
  if (k.fwmark !== undefined) out.push(attrU32(SVC.FWMARK, k.fwmark));
  else out.push(attrU16(SVC.PROTOCOL, PROTO[k.protocol]), { type: SVC.ADDR, inet: k.address }, attrBe16(SVC.PORT, k.port));
  return out;
}

function netmaskAttr(s: Service): Attr {
  const b = Buffer.alloc(4);
  if (s.key.family === 'inet') s.netmask.split('.').forEach((p, i) => (b[i] = Number(p)));
  else b.writeUInt32LE(Number(s.netmask)); // IPv6: the prefix length, host order (as ipvsadm)
  return { type: SVC.NETMASK, value: b };
}

export function serviceFlags(s: Pick<Service, 'persistence' | 'onePacket' | 'schedFlags'>): number {
  return (
    (s.persistence > 0 ? SVC_F_PERSISTENT : 0) |
    (s.onePacket ? SVC_F_ONEPACKET : 0) |
    (s.schedFlags.fallback ? SVC_F_SCHED1 : 0) |
    (s.schedFlags.port ? SVC_F_SCHED2 : 0)
  );
}

/** The full service entry NEW_SERVICE and SET_SERVICE need. */
export function serviceAttrs(s: Service): Attr[] {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(serviceFlags(s), 0);
  flags.writeUInt32LE(0xffffffff, 4); // mask: set every flag to the given value
  const out = [
    ...serviceKeyAttrs(s.key),
    attrStr(SVC.SCHED_NAME, s.scheduler),
    { type: SVC.FLAGS, value: flags },
    attrU32(SVC.TIMEOUT, s.persistence),
    netmaskAttr(s),
  ];
  if (s.pe) out.push(attrStr(SVC.PE_NAME, s.pe));
  return out;
}

export function destKeyAttrs(d: DestKey): Attr[] {
  const out = [{ type: DEST.ADDR, inet: d.address }, attrBe16(DEST.PORT, d.port)];
  if (d.family) out.push(attrU16(DEST.ADDR_FAMILY, af(d.family)));
  return out;
}

export function destAttrs(d: Dest): Attr[] {
  const out = [
    ...destKeyAttrs(d.key),
    attrU32(DEST.FWD_METHOD, FWD[d.forwarding]),
    attrU32(DEST.WEIGHT, d.weight),
    attrU32(DEST.U_THRESH, d.upperThreshold),
    attrU32(DEST.L_THRESH, d.lowerThreshold),
  ];
  if (d.forwarding === 'tunnel' && d.tunnel) {
    out.push(attrU8(DEST.TUN_TYPE, TUN[d.tunnel.type]));
    if (d.tunnel.type === 'gue') out.push(attrBe16(DEST.TUN_PORT, d.tunnel.port ?? 0));
    if (d.tunnel.type !== 'ipip')
      out.push(attrU16(DEST.TUN_FLAGS, d.tunnel.checksum === 'csum' ? TUN_F_CSUM : d.tunnel.checksum === 'remcsum' ? TUN_F_REMCSUM : TUN_F_NOCSUM));
  }
  return out;
}

// ---- requests (genl payloads) ------------------------------------------------

const svcNest = (attrs: Attr[]) => attrNested(CMD_ATTR.SERVICE, attrs);
const destNest = (attrs: Attr[]) => attrNested(CMD_ATTR.DEST, attrs);

/**
 * A service's nested key, encoded once per key object: the ten real servers of a
 * service share it (a table load builds 10,000 real-server messages).
 */
const svcKeyBytes = new WeakMap<ServiceKey, Buffer>();
function serviceKeyNest(k: ServiceKey): Buffer {
  let b = svcKeyBytes.get(k);
  if (!b) {
    b = Buffer.alloc(serviceKeySize(k));
    writeServiceKey(b, 0, k);
    svcKeyBytes.set(k, b);
  }
  return b;
}

/** Bytes of IPVS_CMD_ATTR_SERVICE holding a service's key: AF, then fwmark, or protocol + address + port. */
const serviceKeySize = (k: ServiceKey): number => NLA_HDRLEN + 8 + (k.fwmark !== undefined ? 8 : 8 + NLA_HDRLEN + 16 + 8);

/**
 * The nested key written field by field into a zero-filled buffer — the bytes of
 * svcNest(serviceKeyAttrs(k)) (a unit test holds them equal), without attribute
 * objects: a dump of the table asks for 1,000 services' real servers, each key
 * new from the services' dump.
 */
function writeServiceKey(out: Buffer, off: number, k: ServiceKey): void {
  let at = hdr(out, off, serviceKeySize(k), CMD_ATTR.SERVICE | NLA_F_NESTED);
  put16(out, hdr(out, at, NLA_HDRLEN + 2, SVC.AF), af(k.family));
  at += 8;
  if (k.fwmark !== undefined) {
    put32(out, hdr(out, at, NLA_HDRLEN + 4, SVC.FWMARK), k.fwmark);
    return;
  }
  put16(out, hdr(out, at, NLA_HDRLEN + 2, SVC.PROTOCOL), PROTO[k.protocol]);
  at += 8;
  writeInetAddr(k.address, out, hdr(out, at, NLA_HDRLEN + 16, SVC.ADDR));
  at += NLA_HDRLEN + 16;
  const p = hdr(out, at, NLA_HDRLEN + 2, SVC.PORT);
  out[p] = (k.port >>> 8) & 0xff;
  out[p + 1] = k.port & 0xff;
}

/** A request naming a service only (GET_DEST: its real servers). */
const serviceKeyBody = (cmd: number, k: ServiceKey): Body => genlWritten(cmd, IPVS_GENL_VERSION, serviceKeySize(k), (out, off) => writeServiceKey(out, off, k));

const put16 = (out: Buffer, off: number, v: number): void => {
  out[off] = v & 0xff;
  out[off + 1] = (v >>> 8) & 0xff;
};
const put32 = (out: Buffer, off: number, v: number): void => {
  out[off] = v & 0xff;
  out[off + 1] = (v >>> 8) & 0xff;
  out[off + 2] = (v >>> 16) & 0xff;
  out[off + 3] = (v >>> 24) & 0xff;
};
/** One attribute header; returns the offset of its value. */
const hdr = (out: Buffer, off: number, len: number, type: number): number => (put16(out, off, len), put16(out, off + 2, type), off + NLA_HDRLEN);

/**
 * NEW_DEST / SET_DEST: the service's key (encoded once) and the real server written
 * field by field — the same bytes as destAttrs() (a unit test holds them equal),
 * without ten attribute objects per message.
 */
function destBody(cmd: number, k: ServiceKey, d: Dest): Body {
  if (d.forwarding === 'tunnel') return genlBody(cmd, IPVS_GENL_VERSION, [svcNest(serviceKeyAttrs(k)), destNest(destAttrs(d))]);
  const svc = serviceKeyNest(k);
  const destLen = NLA_HDRLEN + 20 + 8 + (d.key.family ? 8 : 0) + 4 * 8;
  return {
    size: GENL_HDRLEN + svc.length + destLen,
    write(out: Buffer, off: number): void {
      out[off] = cmd;
      out[off + 1] = IPVS_GENL_VERSION;
      off += GENL_HDRLEN;
      out.set(svc, off);
      off = hdr(out, off + svc.length, destLen, CMD_ATTR.DEST | NLA_F_NESTED);
      writeInetAddr(d.key.address, out, hdr(out, off, NLA_HDRLEN + 16, DEST.ADDR));
      off += NLA_HDRLEN + 16;
      const p = hdr(out, off, NLA_HDRLEN + 2, DEST.PORT);
      out[p] = (d.key.port >>> 8) & 0xff;
      out[p + 1] = d.key.port & 0xff;
      off += 8;
      if (d.key.family) {
        put16(out, hdr(out, off, NLA_HDRLEN + 2, DEST.ADDR_FAMILY), af(d.key.family));
        off += 8;
      }
      put32(out, hdr(out, off, 8, DEST.FWD_METHOD), FWD[d.forwarding]);
      put32(out, hdr(out, off + 8, 8, DEST.WEIGHT), d.weight);
      put32(out, hdr(out, off + 16, 8, DEST.U_THRESH), d.upperThreshold);
      put32(out, hdr(out, off + 24, 8, DEST.L_THRESH), d.lowerThreshold);
    },
  };
}

export const req = {
  newService: (s: Service) => genlBody(CMD.NEW_SERVICE, IPVS_GENL_VERSION, [svcNest(serviceAttrs(s))]),
  setService: (s: Service) => genlBody(CMD.SET_SERVICE, IPVS_GENL_VERSION, [svcNest(serviceAttrs(s))]),
  delService: (k: ServiceKey) => genlBody(CMD.DEL_SERVICE, IPVS_GENL_VERSION, [svcNest(serviceKeyAttrs(k))]),
  getServices: () => genlBody(CMD.GET_SERVICE, IPVS_GENL_VERSION, []),
  getService: (k: ServiceKey) => genlBody(CMD.GET_SERVICE, IPVS_GENL_VERSION, [svcNest(serviceKeyAttrs(k))]),
  newDest: (k: ServiceKey, d: Dest) => destBody(CMD.NEW_DEST, k, d),
  setDest: (k: ServiceKey, d: Dest) => destBody(CMD.SET_DEST, k, d),
  /** The same messages through the generic attribute builder (what destBody must equal). */
  newDestGeneric: (k: ServiceKey, d: Dest) => genlBody(CMD.NEW_DEST, IPVS_GENL_VERSION, [svcNest(serviceKeyAttrs(k)), destNest(destAttrs(d))]),
  delDest: (k: ServiceKey, d: DestKey) => genlBody(CMD.DEL_DEST, IPVS_GENL_VERSION, [svcNest(serviceKeyAttrs(k)), destNest(destKeyAttrs(d))]),
  getDests: (k: ServiceKey) => serviceKeyBody(CMD.GET_DEST, k),
  /** The same through the generic attribute builder (what getDests must equal). */
  getDestsGeneric: (k: ServiceKey) => genlBody(CMD.GET_DEST, IPVS_GENL_VERSION, [svcNest(serviceKeyAttrs(k))]),
  getInfo: () => genlBody(CMD.GET_INFO, IPVS_GENL_VERSION, []),
  getConfig: () => genlBody(CMD.GET_CONFIG, IPVS_GENL_VERSION, []),
  setConfig: (t: Timeouts) =>
    genlBody(CMD.SET_CONFIG, IPVS_GENL_VERSION, [
      attrU32(CMD_ATTR.TIMEOUT_TCP, t.tcp),
      attrU32(CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin),
      attrU32(CMD_ATTR.TIMEOUT_UDP, t.udp),
    ]),
  newDaemon: (d: SyncDaemon) => genlBody(CMD.NEW_DAEMON, IPVS_GENL_VERSION, [attrNested(CMD_ATTR.DAEMON, daemonAttrs(d))]),
  delDaemon: (state: SyncDaemon['state']) =>
    genlBody(CMD.DEL_DAEMON, IPVS_GENL_VERSION, [attrNested(CMD_ATTR.DAEMON, [attrU32(DAEMON.STATE, SYNC_STATE[state])])]),
  getDaemons: () => genlBody(CMD.GET_DAEMON, IPVS_GENL_VERSION, []),
  flush: () => genlBody(CMD.FLUSH, IPVS_GENL_VERSION, []),
  zero: () => genlBody(CMD.ZERO, IPVS_GENL_VERSION, []),
};

function daemonAttrs(d: SyncDaemon): Attr[] {
  const out = [attrU32(DAEMON.STATE, SYNC_STATE[d.state]), attrStr(DAEMON.MCAST_IFN, d.interface), attrU32(DAEMON.SYNC_ID, d.syncId)];
  if (d.maxLen !== undefined) out.push(attrU16(DAEMON.SYNC_MAXLEN, d.maxLen));
  if (d.group !== undefined) {
    if (d.group.includes(':')) out.push({ type: DAEMON.MCAST_GROUP6, value: inetAddrBytes(d.group) });
    else out.push({ type: DAEMON.MCAST_GROUP, value: inetAddrBytes(d.group).subarray(0, 4) });
  }
  if (d.port !== undefined) out.push(attrU16(DAEMON.MCAST_PORT, d.port));
  if (d.ttl !== undefined) out.push(attrU8(DAEMON.MCAST_TTL, d.ttl));
  return out;
}

// ---- replies -------------------------------------------------------------------

/** An address attribute (16 bytes on the wire, union nf_inet_addr) as text; undefined when absent or short. */
function addrText(a: AttrView, type: number, family: Family): string | undefined {
  const o = a.offset(type);
  const b = a.buf;
  if (family === 'inet') return a.length(type) >= 4 ? `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}` : undefined;
  return a.length(type) >= 16 ? inetAddrText(b.subarray(o, o + 16), 'inet6') : undefined;
}

// Services and real servers of a dump are read by the addon (src/ipvs/dump-records.ts).

export function infoOfReply(m: NlMessage): { version: string; connTableSize: number } {
  const a = genlAttrs(m.payload);
  const v = a.u32(INFO.VERSION);
  return { version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, connTableSize: a.u32(INFO.CONN_TAB_SIZE) };
}

export function timeoutsOfReply(m: NlMessage): Timeouts {
  const a = genlAttrs(m.payload);
  return { tcp: a.u32(CMD_ATTR.TIMEOUT_TCP), tcpFin: a.u32(CMD_ATTR.TIMEOUT_TCP_FIN), udp: a.u32(CMD_ATTR.TIMEOUT_UDP) };
}

export function daemonOfReply(m: NlMessage): SyncDaemon | undefined {
  const a = genlAttrs(m.payload).nested(CMD_ATTR.DAEMON);
  if (!a) return undefined;
  const state = a.u32(DAEMON.STATE) === SYNC_STATE.master ? 'master' : 'backup';
  const set = (t: number) => a.bytes(t)?.some((x) => x !== 0) === true;
  const group = set(DAEMON.MCAST_GROUP6) ? addrText(a, DAEMON.MCAST_GROUP6, 'inet6') : set(DAEMON.MCAST_GROUP) ? addrText(a, DAEMON.MCAST_GROUP, 'inet') : undefined;
  return {
    state,
    interface: a.string(DAEMON.MCAST_IFN) ?? '',
    syncId: a.u32(DAEMON.SYNC_ID),
    ...(a.has(DAEMON.SYNC_MAXLEN) ? { maxLen: a.u16(DAEMON.SYNC_MAXLEN) } : {}),
    ...(group ? { group } : {}),
    ...(a.has(DAEMON.MCAST_PORT) ? { port: a.u16(DAEMON.MCAST_PORT) } : {}),
    ...(a.has(DAEMON.MCAST_TTL) ? { ttl: a.u8(DAEMON.MCAST_TTL) } : {}),
  };
}
