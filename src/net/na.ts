// Unsolicited Neighbor Advertisement (RFC 4861 4.4, 7.2.6): IPv6's gratuitous
// ARP, as keepalived sends it for an IPv6 VIP — from the VIP to all nodes
// (ff02::1), hop limit 255, Override set, Solicited clear, Router set when the
// interface forwards, the target the VIP and the Target Link-Layer Address
// option our MAC. Neighbours with an entry for the VIP update it to our MAC.

import { readFileSync } from 'node:fs';
import { internetChecksum } from '../vrrp/ipv4.js';
import { parseMac } from './garp.js';
import { ipv6ToBytes, pseudoHeaderV6 } from './inet.js';
import { native } from './native.js';

export const ETH_P_IPV6 = 0x86dd;
const ICMPV6 = 58;
const ND_NEIGHBOR_ADVERT = 136;
const ND_OPT_TARGET_LL_ADDR = 2;
export const NA_ROUTER = 0x80000000;
export const NA_SOLICITED = 0x40000000;
export const NA_OVERRIDE = 0x20000000;
const ALL_NODES = 'ff02::1';

/** The 86-byte Ethernet frame of one unsolicited NA for `ip` from `mac`. */
export function naFrame(mac: string, ip: string, router: boolean): Buffer {
  const src = parseMac(mac);
  const f = Buffer.alloc(14 + 40 + 32);
  // Ethernet: to 33:33 + the low 32 bits of ff02::1 (RFC 2464 7).
  Buffer.from([0x33, 0x33, 0, 0, 0, 1]).copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(ETH_P_IPV6, 12);
  // IPv6 header.
  f.writeUInt32BE(0x60000000, 14);
  f.writeUInt16BE(32, 18);
  f[20] = ICMPV6;
  f[21] = 255;
  ipv6ToBytes(ip).copy(f, 22);
  ipv6ToBytes(ALL_NODES).copy(f, 38);
  // ICMPv6 Neighbor Advertisement with one option.
  const m = f.subarray(54);
  m[0] = ND_NEIGHBOR_ADVERT;
  m.writeUInt32BE((NA_OVERRIDE | (router ? NA_ROUTER : 0)) >>> 0, 4);
  ipv6ToBytes(ip).copy(m, 8);
  m[24] = ND_OPT_TARGET_LL_ADDR;
  m[25] = 1; // length in units of 8 bytes
  src.copy(m, 26);
  m.writeUInt16BE(internetChecksum(pseudoHeaderV6(ip, ALL_NODES, m.length, ICMPV6), m), 2);
  return f;
}

/** Whether `ifname` forwards IPv6 (then the NA carries the Router flag, as keepalived's does). */
export function ipv6Forwarding(ifname: string): boolean {
  try {
    return readFileSync(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

export function sendUnsolicitedNa(ifindex: number, ifname: string, mac: string, ip: string): void {
  native().packetSend(ifindex, naFrame(mac, ip, ipv6Forwarding(ifname)));
}
