// Minimal pcap (libpcap classic format) reader for the golden vectors:
// Ethernet (link type 1) frames carrying IPv4.

import { readFileSync } from 'node:fs';

export interface PcapRecord {
  tsUs: number;
  frame: Buffer;
}

export function readPcap(file: string | URL): { linkType: number; records: PcapRecord[] } {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${String(file)}: not a pcap file`);
  const nano = (le ? magic : b.readUInt32BE(0)) === 0xa1b23c4d;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = u32(20);
  const records: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    off += 16;
    records.push({ tsUs: sec * 1e6 + (nano ? frac / 1000 : frac), frame: b.subarray(off, off + incl) });
    off += incl;
  }
  return { linkType, records };
}

/** The IPv4 packets (header included) of Ethernet frames with EtherType 0x0800. */
export function ipv4Packets(file: string | URL): { tsUs: number; packet: Buffer }[] {
  const { linkType, records } = readPcap(file);
  if (linkType !== 1) throw new Error(`link type ${linkType} not handled (Ethernet expected)`);
  return records.filter((r) => r.frame.length > 14 && r.frame.readUInt16BE(12) === 0x0800).map((r) => ({ tsUs: r.tsUs, packet: r.frame.subarray(14) }));
}

/** The IPv6 packets (header included) of Ethernet frames with EtherType 0x86dd. */
export function ipv6Packets(file: string | URL): { tsUs: number; packet: Buffer; frame: Buffer }[] {
  const { linkType, records } = readPcap(file);
  if (linkType !== 1) throw new Error(`link type ${linkType} not handled (Ethernet expected)`);
  return records.filter((r) => r.frame.length > 54 && r.frame.readUInt16BE(12) === 0x86dd).map((r) => ({ tsUs: r.tsUs, packet: r.frame.subarray(14), frame: r.frame }));
}

/** The ARP frames (EtherType 0x0806), whole. */
export function arpFrames(file: string | URL): Buffer[] {
  return readPcap(file).records.filter((r) => r.frame.length >= 42 && r.frame.readUInt16BE(12) === 0x0806).map((r) => r.frame);
}
