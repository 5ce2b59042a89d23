// rtnetlink (rtnetlink(7)): links and addresses (IPv4 and IPv6). Encoders and decoders are
// pure; RtNetlink wraps them over a NetlinkSocket.

import { familyOf, inetAddrBytes, inetAddrText, ipv6ToBytes } from './inet.js';
import { ipv4ToBytes } from '../vrrp/ipv4.js';
import {
  attrStr,
  AttrView,
  encodeAttrs,
  NetlinkError,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  type Attr,
  type NlMessage,
} from './netlink.js';
import { NetlinkSocket } from './netlink-socket.js';

export const NETLINK_ROUTE = 0;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;
const AF_INET6 = 10;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
/** rtm_type values a route lookup can answer with. */
const RTN_NAMES: Record<number, string> = { 1: 'unicast', 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw', 10: 'nat' };
export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;
export const RTMGRP_IPV6_IFADDR = 0x100;

const AF_INET = 2;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_OPERSTATE = 16;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_FLAGS = 8;
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;
export const IFA_F_SECONDARY = 0x1;
/** IPv6: no duplicate address detection, usable at once (keepalived adds its IPv6 VIPs so). */
export const IFA_F_NODAD = 0x2;
/** IPv6: duplicate address detection still running; not usable as a source yet. */
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_DADFAILED = 0x8;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;

export interface Link {
  index: number;
  name: string;
  flags: number;
  /** aa:bb:cc:dd:ee:ff, or '' for links without a hardware address. */
  mac: string;
  operstate: number;
  /** Administratively up and carrier present: the link can carry VRRP. */
  usable: boolean;
}

export interface Ipv4Address {
  index: number;
  /** 'inet6' for an IPv6 address (absent: IPv4). */
  family?: 'inet6';
  address: string;
  prefix: number;
  flags: number;
  label?: string;
  secondary: boolean;
}

export function formatMac(b: Buffer | undefined): string {
  if (!b || b.length !== 6) return '';
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** struct ifinfomsg (16 bytes). */
export function encodeIfinfomsg(index = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  return b;
}

export function decodeLink(m: NlMessage): Link | undefined {
  if (m.payload.length < 16) return undefined;
  const index = m.payload.readInt32LE(4);
  const flags = m.payload.readUInt32LE(8);
  const a = new AttrView(m.payload, 16, m.payload.length, 64);
  const name = a.string(IFLA_IFNAME);
  if (!name) return undefined;
  return {
    index,
    name,
    flags,
    mac: formatMac(a.bytes(IFLA_ADDRESS)),
    operstate: a.u8(IFLA_OPERSTATE),
    usable: (flags & IFF_UP) !== 0 && (flags & IFF_RUNNING) !== 0,
  };
}

/**
 * struct ifaddrmsg (8 bytes) + attributes for an address. An IPv6 one is added
 * with IFA_F_NODAD, as keepalived does (a VIP moving to the new master must be
 * usable at once, not after a second of DAD), link scope for fe80::/10.
 */
export function encodeAddrRequest(index: number, address: string, prefix: number, label?: string): Buffer {
  const v6 = familyOf(address) === 'inet6';
  const head = Buffer.alloc(8);
  head.writeUInt8(v6 ? AF_INET6 : AF_INET, 0);
  head.writeUInt8(prefix, 1);
  head.writeUInt8(v6 ? IFA_F_NODAD : 0, 2);
  head.writeUInt8(v6 && /^fe[89ab]/i.test(address) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE, 3);
  head.writeUInt32LE(index, 4);
  const ip = v6 ? ipv6ToBytes(address) : Buffer.from(ipv4ToBytes(address));
  const attrs: Attr[] = [
    { type: IFA_LOCAL, value: ip },
    { type: IFA_ADDRESS, value: ip },
  ];
  if (label) attrs.push(attrStr(IFA_LABEL, label));
  return Buffer.concat([head, encodeAttrs(attrs)]);
}

export function decodeAddress(m: NlMessage): Ipv4Address | undefined {
  if (m.payload.length < 8 || (m.payload[0] !== AF_INET && m.payload[0] !== AF_INET6)) return undefined;
  const v6 = m.payload[0] === AF_INET6;
  const prefix = m.payload[1]!;
  let flags = m.payload[2]!;
  const index = m.payload.readUInt32LE(4);
  const a = new AttrView(m.payload, 8, m.payload.length, 16);
  const local = a.bytes(IFA_LOCAL) ?? a.bytes(IFA_ADDRESS);
  if (!local || local.length !== (v6 ? 16 : 4)) return undefined;
  if (a.length(IFA_FLAGS) === 4) flags = a.u32(IFA_FLAGS);
  const label = a.string(IFA_LABEL);
  return {
    index,
    ...(v6 ? { family: 'inet6' as const } : {}),
    address: inetAddrText(local, v6 ? 'inet6' : 'inet'),
    prefix,
    flags,
    ...(label ? { label } : {}),
    secondary: (flags & IFA_F_SECONDARY) !== 0,
  };
}

/** How this host would reach an address (what "ip route get" answers, without policy rules). */
export interface RouteLookup {
  /** unicast, local, blackhole, unreachable, prohibit, ... */
  type: string;
  /** The outgoing interface index. */
  oif?: number;
  /** The next hop when the address is not on a directly connected network. */
  gateway?: string;
}

/** One route of a dump (RTM_GETROUTE, all tables). */
export interface Route {
  family: 'inet' | 'inet6';
  dst?: string;
  dstLen: number;
  table: number;
  type: string;
  gateway?: string;
  oif?: number;
}

const RTA_TABLE = 15;

export function decodeRouteEntry(m: NlMessage): Route | undefined {
  if (m.type !== RTM_NEWROUTE || m.payload.length < 12) return undefined;
  const family = m.payload.readUInt8(0) === AF_INET6 ? 'inet6' : 'inet';
  const a = new AttrView(m.payload, 12, m.payload.length, 32);
  const dst = a.bytes(RTA_DST);
  const gw = a.bytes(RTA_GATEWAY);
  return {
    family,
    dstLen: m.payload.readUInt8(1),
    table: a.has(RTA_TABLE) ? a.u32(RTA_TABLE) : m.payload.readUInt8(4),
    type: RTN_NAMES[m.payload.readUInt8(7)] ?? `type ${m.payload.readUInt8(7)}`,
    ...(dst ? { dst: inetAddrText(dst, family) } : {}),
    ...(gw ? { gateway: inetAddrText(gw, family) } : {}),
    ...(a.has(RTA_OIF) ? { oif: a.u32(RTA_OIF) } : {}),
  };
}

/**
 * Longest-prefix match over a route dump: the local table first, then main —
 * what "ip route get" answers without policy rules. Answers thousands of real
 * servers from one dump instead of one request each. Pure.
 */
export class RouteTable {
  private readonly byTable: Route[][];

  constructor(routes: readonly Route[]) {
    const sorted = [...routes].sort((a, b) => b.dstLen - a.dstLen);
    this.byTable = [255, 254].map((t) => sorted.filter((r) => r.table === t));
  }

  lookup(address: string): RouteLookup {
    const family = familyOf(address);
    const want = inetAddrBytes(address);
    for (const routes of this.byTable) {
      for (const r of routes) {
        if (r.family !== family || !prefixMatch(want, r.dst ? inetAddrBytes(r.dst) : undefined, r.dstLen)) continue;
        return { type: r.type, ...(r.oif !== undefined ? { oif: r.oif } : {}), ...(r.gateway ? { gateway: r.gateway } : {}) };
      }
    }
    return { type: 'unreachable' };
  }
}

function prefixMatch(addr: Buffer, net: Buffer | undefined, len: number): boolean {
  if (len === 0) return true;
  if (!net) return false;
  const full = len >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== net[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full]! & mask) === (net[full]! & mask);
}

export class RtNetlink {
  private readonly sock = new NetlinkSocket(NETLINK_ROUTE);

  links(): Link[] {
    return this.sock
      .request(RTM_GETLINK, NLM_F_DUMP, encodeIfinfomsg(), 'list links')
      .filter((m) => m.type === RTM_NEWLINK)
      .map(decodeLink)
      .filter((l): l is Link => l !== undefined);
  }

  /** The IPv4 addresses of every link (or the IPv6 ones). */
  addresses(family: 'inet' | 'inet6' = 'inet'): Ipv4Address[] {
    const req = Buffer.alloc(8);
    req.writeUInt8(family === 'inet6' ? AF_INET6 : AF_INET, 0);
    return this.sock
      .request(RTM_GETADDR, NLM_F_DUMP, req, 'list addresses')
      .filter((m) => m.type === RTM_NEWADDR)
      .map(decodeAddress)
      .filter((a): a is Ipv4Address => a !== undefined);
  }

  /** Every route of every table (IPv4 and IPv6). */
  routes(): Route[] {
    const out: Route[] = [];
    for (const family of [AF_INET, AF_INET6]) {
      const head = Buffer.alloc(12);
      head.writeUInt8(family, 0);
      for (const m of this.sock.request(RTM_GETROUTE, NLM_F_DUMP, head, 'list routes')) {
        const r = decodeRouteEntry(m);
        if (r) out.push(r);
      }
    }
    return out;
  }

  /** Adds an address; false if the interface already has it. */
  addAddress(index: number, address: string, prefix: number, label?: string): boolean {
    try {
      this.sock.request(
        RTM_NEWADDR,
        NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        encodeAddrRequest(index, address, prefix, label),
        `add address ${address}/${prefix} to ifindex ${index}`,
      );
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'EEXIST') return false;
      throw err;
    }
  }

  /** Removes an address; false if the interface does not have it. */
  delAddress(index: number, address: string, prefix: number): boolean {
    try {
      this.sock.request(RTM_DELADDR, NLM_F_ACK, encodeAddrRequest(index, address, prefix), `delete address ${address}/${prefix} from ifindex ${index}`);
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && (err.code === 'EADDRNOTAVAIL' || err.code === 'ENODEV')) return false;
      throw err;
    }
  }

  close(): void {
    this.sock.close();
  }
}
