// The services and real servers of an IPVS dump as the addon reads them
// (native/ipvs_dump.cc): a flat table of 32-bit words per dump. Services are made
// into entries at once (a reconcile needs their keys); real servers only where they
// are needed: a reconcile compares the desired real servers with the numbers
// directly, and a service whose real servers are as desired makes no object at
// all (a no-op reconcile of 10,000 real servers made 20,000).

import { inetAddrText } from '../net/inet.js';
import { type NativeAddon, native } from '../net/native.js';
import { AF_INET, AF_INET6, FWD, PROTO, SVC_F_ONEPACKET, SVC_F_PERSISTENT, SVC_F_SCHED1, SVC_F_SCHED2, TUN, TUN_F_CSUM, TUN_F_REMCSUM } from './codec.js';
import type { Dest, DestEntry, Family, Forwarding, Protocol, ServiceEntry, ServiceKey, Stats, TunnelType } from './types.js';

/** Word offsets of a real server's record: the list in native/ipvs_dump.cc (IpvsDestField), in its order. A 64-bit counter is two words, low first. */
const F = {
  family: 0,
  addrLen: 1,
  addr0: 2,
  port: 6,
  fwd: 7,
  weight: 8,
  upper: 9,
  lower: 10,
  active: 11,
  inactive: 12,
  persistent: 13,
  tunType: 14,
  tunPort: 15,
  tunFlags: 16,
  hasStats: 17,
  stats0: 18,
} as const;
export const STRIDE = F.stats0 + 20;
/** The stride of records read without the counters. */
export const LEAN_STRIDE = F.stats0;
/** Word offsets of a service's record (IpvsServiceField); a name is its length, then its bytes four to a word, first byte lowest. */
const S = {
  family: 0,
  protocol: 1,
  addrLen: 2,
  port: 7,
  fwmark: 8,
  flags: 9,
  timeout: 10,
  netmaskLen: 11,
  netmask: 12,
  schedLen: 13,
  peLen: 18,
  hasStats: 23,
  stats0: 24,
} as const;
export const SERVICE_STRIDE = S.stats0 + 20;
export const SERVICE_LEAN_STRIDE = S.stats0;
/** A field the kernel did not send (family, tunnel type). */
const ABSENT = 0xffffffff;

const FWD_NAME = new Map<number, Forwarding>(Object.entries(FWD).map(([k, v]) => [v, k as Forwarding]));
const TUN_NAME = new Map<number, TunnelType>(Object.entries(TUN).map(([k, v]) => [v, k as TunnelType]));
const STATS_KEYS: (keyof Stats)[] = ['connections', 'packetsIn', 'packetsOut', 'bytesIn', 'bytesOut', 'cps', 'ppsIn', 'ppsOut', 'bpsIn', 'bpsOut'];

/** Dotted-quad text of an IPv4 address, each address's text made once (a dump names the same few thousand hosts each time). */
const ipv4Texts = new Map<number, string>();
function ipv4Text(n: number): string {
  let t = ipv4Texts.get(n);
  if (t === undefined) {
    if (ipv4Texts.size >= 65536) ipv4Texts.clear();
    ipv4Texts.set(n, (t = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`));
  }
  return t;
}

/** The number of a dotted quad (NaN for anything else), remembered per text: a reconcile asks for the same desired addresses each time. */
const ipv4Numbers = new Map<string, number>();
function ipv4Number(text: string): number {
  let n = ipv4Numbers.get(text);
  if (n === undefined) {
    const p = text.split('.');
    n = p.length === 4 && p.every((x) => /^\d{1,3}$/.test(x) && Number(x) < 256) ? ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0 : NaN;
    if (ipv4Numbers.size >= 65536) ipv4Numbers.clear();
    ipv4Numbers.set(text, n);
  }
  return n;
}

/** The real servers of one service in a dump: records `from` .. `to` - 1 of `recs`. */
export class DestSlice {
  constructor(
    private readonly recs: Uint32Array,
    /** Words per record: STRIDE, or LEAN_STRIDE when read without the counters. */
    private readonly stride: number,
    private readonly from: number,
    private readonly to: number,
    /** The service's family: a real server without its own is of this one. */
    readonly family: Family,
  ) {}

  get length(): number {
    return this.to - this.from;
  }

  /** The real servers as entries (what the general decoder of GET_DEST replies made); counters only if the dump read them. */
  entries(): DestEntry[] {
    const out: DestEntry[] = [];
    for (let i = this.from; i < this.to; i++) {
      const d = this.entry(i * this.stride);
      if (d) out.push(d);
    }
    return out;
  }

  private entry(at: number): DestEntry | undefined {
    const r = this.recs;
    const fam: Family = r[at + F.family] === ABSENT ? this.family : r[at + F.family] === AF_INET6 ? 'inet6' : 'inet';
    const address = addressOf(r, at + F.addrLen, fam);
    if (address === undefined) return undefined;
    const port = r[at + F.port]!;
    const forwarding = FWD_NAME.get(r[at + F.fwd]! & 0x7) ?? 'nat';
    const d: DestEntry = {
      key: fam !== this.family ? { address, port, family: fam } : { address, port },
      forwarding,
      weight: r[at + F.weight]!,
      upperThreshold: r[at + F.upper]!,
      lowerThreshold: r[at + F.lower]!,
      activeConns: r[at + F.active]!,
      inactiveConns: r[at + F.inactive]!,
      persistentConns: r[at + F.persistent]!,
    };
    if (r[at + F.hasStats]) d.stats = statsAt(r, at + F.stats0);
    const tunType = r[at + F.tunType]!;
    if (forwarding === 'tunnel' && tunType !== ABSENT) {
      const type = TUN_NAME.get(tunType) ?? 'ipip';
      const tf = r[at + F.tunFlags]!;
      d.tunnel = { type };
      if (type === 'gue') d.tunnel.port = r[at + F.tunPort]!;
      if (type !== 'ipip' && tf & TUN_F_REMCSUM) d.tunnel.checksum = 'remcsum';
      else if (type !== 'ipip' && tf & TUN_F_CSUM) d.tunnel.checksum = 'csum';
    }
    return d;
  }

  /**
   * Whether these are exactly `want` — the same real servers, in the same order or
   * the reverse (the kernel lists them newest first), each with the same settings —
   * read from the numbers, making nothing. False for anything it does not compare
   * (IPv6, tunnels): the caller then makes the entries and diffs them.
   */
  sameAs(want: readonly Dest[]): boolean {
    const n = want.length;
    if (n !== this.length || this.family !== 'inet') return false;
    if (n === 0) return true;
    const s = this.stride;
    // The kernel's order or the reverse: decided on the first desired real server.
    const rev = !this.same(want[0]!, this.from * s) && this.same(want[0]!, (this.to - 1) * s);
    for (let j = 0; j < n; j++) if (!this.same(want[j]!, (rev ? this.to - 1 - j : this.from + j) * s)) return false;
    return true;
  }

  /** Whether the record at word `at` is `d`, for sameAs(). */
  private same(d: Dest, at: number): boolean {
    const r = this.recs;
    return (
      d.forwarding !== 'tunnel' &&
      (r[at + F.family] === ABSENT || r[at + F.family] === AF_INET) &&
      r[at + F.addrLen]! >= 4 &&
      r[at + F.port] === d.key.port &&
      r[at + F.weight] === d.weight &&
      (r[at + F.fwd]! & 0x7) === FWD[d.forwarding] &&
      r[at + F.upper] === d.upperThreshold &&
      r[at + F.lower] === d.lowerThreshold &&
      r[at + F.addr0] === ipv4Number(d.key.address) // last: a lookup, the others are numbers
    );
  }
}

/** The address whose length is at word `at` (its four words after it), as text; undefined when shorter than the family's. */
function addressOf(r: Uint32Array, at: number, fam: Family): string | undefined {
  const len = r[at]!;
  if (fam === 'inet') return len >= 4 ? ipv4Text(r[at + 1]!) : undefined;
  if (len < 16) return undefined;
  const b = Buffer.alloc(16);
  for (let w = 0; w < 4; w++) b.writeUInt32BE(r[at + 1 + w]!, 4 * w);
  return inetAddrText(b, 'inet6');
}

/** Ten 64-bit counters from word `at`, low word first. */
function statsAt(r: Uint32Array, at: number): Stats {
  const stats = {} as Stats;
  for (let k = 0; k < STATS_KEYS.length; k++) stats[STATS_KEYS[k]!] = r[at + 2 * k]! + r[at + 2 * k + 1]! * 0x1_0000_0000;
  return stats;
}

/** Names of up to four bytes (every scheduler's but lblcr) by their one word: a dump of 1,000 services names the same few. */
const shortNames = new Map<number, string>();
/** The name whose length is at word `at` (its bytes in the four words after it). */
function nameAt(r: Uint32Array, at: number): string {
  const n = r[at]!;
  if (n === 0) return '';
  const w0 = r[at + 1]!;
  if (n <= 4) {
    const known = shortNames.get(w0);
    if (known !== undefined) return known;
  }
  const bytes = Buffer.alloc(n);
  for (let k = 0; k < n; k++) bytes[k] = (r[at + 1 + (k >> 2)]! >>> (8 * (k & 3))) & 0xff;
  const name = bytes.toString('utf8');
  if (n <= 4 && shortNames.size < 64) shortNames.set(w0, name);
  return name;
}

const PROTO_NAME = new Map<number, Protocol>(Object.entries(PROTO).map(([k, v]) => [v, k as Protocol]));

/** The service of the record at word `at` (what the general decoder of GET_SERVICE replies made); undefined without a whole key. */
function serviceAt(r: Uint32Array, at: number): ServiceEntry | undefined {
  const family: Family = r[at + S.family] === AF_INET6 ? 'inet6' : 'inet';
  const fwmark = r[at + S.fwmark]!;
  let key: ServiceKey;
  if (fwmark) key = { family, fwmark };
  else {
    const protocol = PROTO_NAME.get(r[at + S.protocol]!);
    const address = addressOf(r, at + S.addrLen, family);
    if (!protocol || address === undefined) return undefined;
    key = { family, protocol, address, port: r[at + S.port]! };
  }
  const flags = r[at + S.flags]!;
  const nm = r[at + S.netmaskLen]! >= 4 ? r[at + S.netmask]! : undefined;
  // IPv6: the prefix length, in host order (as ipvsadm writes it).
  const netmask = family === 'inet' ? (nm === undefined ? '255.255.255.255' : ipv4Text(nm)) : String(nm === undefined ? 0 : ((nm >>> 24) | ((nm >>> 8) & 0xff00) | ((nm & 0xff00) << 8) | ((nm & 0xff) << 24)) >>> 0);
  const pe = nameAt(r, at + S.peLen);
  const s: ServiceEntry = {
    key,
    scheduler: nameAt(r, at + S.schedLen),
    schedFlags: { fallback: (flags & SVC_F_SCHED1) !== 0, port: (flags & SVC_F_SCHED2) !== 0 },
    persistence: flags & SVC_F_PERSISTENT ? r[at + S.timeout]! : 0,
    netmask,
    onePacket: (flags & SVC_F_ONEPACKET) !== 0,
  };
  if (pe) s.pe = pe;
  if (r[at + S.hasStats]) s.stats = statsAt(r, at + S.stats0);
  return s;
}

/** The addon, once its records are seen to have the fields this file reads (an addon built from other sources fails loudly). */
let checked: NativeAddon | undefined;
function readers(): NativeAddon {
  if (checked) return checked;
  const a = native();
  const have = [a.ipvsDestStride, a.ipvsDestLeanStride, a.ipvsServiceStride, a.ipvsServiceLeanStride];
  const want = [STRIDE, LEAN_STRIDE, SERVICE_STRIDE, SERVICE_LEAN_STRIDE];
  if (have.some((x, i) => x !== want[i])) throw new Error(`the native addon's IPVS records have ${have.join('/')} words, vipd expects ${want.join('/')}: rebuild it (npm run install)`);
  return (checked = a);
}

/**
 * The services in the answer to a GET_SERVICE dump (sequence number `firstSeq`),
 * read by the addon. `status` as destSlices'.
 */
export function serviceRecords(answers: Buffer, firstSeq: number, withStats: boolean): { services: ServiceEntry[]; status: Int32Array } {
  const status = new Int32Array(1);
  const starts = new Uint32Array(2);
  const recs = readers().ipvsServices(answers, firstSeq, status, starts, withStats);
  const stride = withStats ? SERVICE_STRIDE : SERVICE_LEAN_STRIDE;
  const services: ServiceEntry[] = [];
  for (let i = starts[0]!; i < starts[1]!; i++) {
    const s = serviceAt(recs, i * stride);
    if (s) services.push(s);
  }
  return { services, status };
}

/**
 * The real servers in the answers to GET_DEST dumps, request i's as slice i, read
 * by the addon. `status` per request: 1 ended, -1 the kernel answered an error,
 * 0 no end seen (the caller then reads the answers itself for the error).
 */
export function destSlices(answers: Buffer, firstSeq: number, families: readonly Family[], withStats: boolean): { slices: DestSlice[]; status: Int32Array } {
  const n = families.length;
  const status = new Int32Array(n);
  const starts = new Uint32Array(n + 1);
  const recs = readers().ipvsDests(answers, firstSeq, status, starts, withStats);
  const slices = new Array<DestSlice>(n);
  for (let i = 0; i < n; i++) slices[i] = new DestSlice(recs, withStats ? STRIDE : LEAN_STRIDE, starts[i]!, starts[i + 1]!, families[i]!);
  return { slices, status };
}
