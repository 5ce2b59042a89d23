// Gratuitous ARP (RFC 5227 §3 "ARP announcement", as keepalived sends it):
// a broadcast ARP request whose sender and target IP are both the virtual IP,
// target MAC ff:ff:ff:ff:ff:ff. Switches relearn the port, neighbours update
// their cache entry for the VIP to the new master's MAC.

import { ipv4ToBytes } from '../vrrp/ipv4.js';
import { native } from './native.js';

export const ETH_P_ARP = 0x0806;

export function parseMac(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC address "${mac}"`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** The 42-byte Ethernet frame of one gratuitous ARP for `ip` from `mac`. */
export function garpFrame(mac: string, ip: string): Buffer {
  const src = parseMac(mac);
  const addr = Buffer.from(ipv4ToBytes(ip));
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6); // Ethernet destination: broadcast
  src.copy(f, 6);
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // hardware type Ethernet
  f.writeUInt16BE(0x0800, 16); // protocol IPv4
  f[18] = 6;
  f[19] = 4;
  f.writeUInt16BE(1, 20); // request
  src.copy(f, 22); // sender MAC
  addr.copy(f, 28); // sender IP
  f.fill(0xff, 32, 38); // target MAC
  addr.copy(f, 38); // target IP
  return f;
}

export function sendGratuitousArp(ifindex: number, mac: string, ip: string): void {
  native().packetSend(ifindex, garpFrame(mac, ip));
}
