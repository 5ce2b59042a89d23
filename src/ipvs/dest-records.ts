// The real servers of an IPVS dump as the addon reads them (native/ipvs_dests.cc):
// a flat table of 32-bit words per dump, made into entries only where they are needed.
// A reconcile compares the desired real servers with the numbers directly; a
// service whose real servers are as desired makes no object at all (a no-op
// reconcile of 10,000 real servers made 20,000).

import { inetAddrText } from '../net/inet.js';
import { native } from '../net/native.js';
import { AF_INET, AF_INET6, FWD, TUN, TUN_F_CSUM, TUN_F_REMCSUM } from './codec.js';
import type { Dest, DestEntry, Family, Forwarding, Stats, TunnelType } from './types.js';

/** Word offsets of a record: the list in native/ipvs_dests.cc (IpvsDestField), in its order. A 64-bit counter is two words, low first. */
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
      const d = this.entry(i * STRIDE);
      if (d) out.push(d);
    }
    return out;
  }

  private entry(at: number): DestEntry | undefined {
    const r = this.recs;
    const fam: Family = r[at + F.family] === ABSENT ? this.family : r[at + F.family] === AF_INET6 ? 'inet6' : 'inet';
    const address = addressOf(r, at, fam);
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
    if (r[at + F.hasStats]) {
      const stats = {} as Stats;
      for (let k = 0; k < STATS_KEYS.length; k++) stats[STATS_KEYS[k]!] = r[at + F.stats0 + 2 * k]! + r[at + F.stats0 + 2 * k + 1]! * 0x1_0000_0000;
      d.stats = stats;
    }
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
    const rev = !this.same(want[0]!, this.from) && this.same(want[0]!, this.to - 1);
    for (let j = 0; j < n; j++) if (!this.same(want[j]!, rev ? this.to - 1 - j : this.from + j)) return false;
    return true;
  }

  private same(d: Dest, i: number): boolean {
    const r = this.recs;
    const at = i * STRIDE;
    return (
      d.forwarding !== 'tunnel' &&
      (r[at + F.family] === ABSENT || r[at + F.family] === AF_INET) &&
      r[at + F.addrLen]! >= 4 &&
      r[at + F.addr0] === ipv4Number(d.key.address) &&
      r[at + F.port] === d.key.port &&
      (r[at + F.fwd]! & 0x7) === FWD[d.forwarding] &&
      r[at + F.weight] === d.weight &&
      r[at + F.upper] === d.upperThreshold &&
      r[at + F.lower] === d.lowerThreshold
    );
  }
}

function addressOf(r: Uint32Array, at: number, fam: Family): string | undefined {
  const len = r[at + F.addrLen]!;
  if (fam === 'inet') return len >= 4 ? ipv4Text(r[at + F.addr0]!) : undefined;
  if (len < 16) return undefined;
  const b = Buffer.alloc(16);
  for (let w = 0; w < 4; w++) b.writeUInt32BE(r[at + F.addr0 + w]!, 4 * w);
  return inetAddrText(b, 'inet6');
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
  const addon = native();
  if (addon.ipvsDestStride !== STRIDE) throw new Error(`the native addon's IPVS records have ${addon.ipvsDestStride} fields, vipd expects ${STRIDE}: rebuild it (npm run install)`);
  const recs = addon.ipvsDests(answers, firstSeq, status, starts, withStats);
  const slices = new Array<DestSlice>(n);
  for (let i = 0; i < n; i++) slices[i] = new DestSlice(recs, starts[i]!, starts[i + 1]!, families[i]!);
  return { slices, status };
}
