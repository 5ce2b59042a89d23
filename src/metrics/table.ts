// The per-service and per-real-server series (IPVS counters, health), written
// as exposition text directly: with 10,000 real servers they are some 200,000
// lines (7 MB), and building them through prom-client's label maps held the main
// thread — and the VRRP adverts on it — for about a second.
//
// Two phases. `gatherTable` reads the snapshot once, a slice at a time, into
// compact rows: each real server's label set as UTF-8 bytes in one buffer, its
// numbers in typed arrays (about 60 bytes a real server, reused scrape after
// scrape). `writeTable` then writes the families one after another — the text
// format wants each family's lines together, so it passes over the rows once per
// family — into a 64 KB chunk handed to the socket whenever it is full, waiting
// for the socket to drain. So the text is never whole in memory: a scrape holds
// a few chunks, not the 7 MB body (which, pooled from one scrape to the next,
// was 7.5 MB of the main thread's memory for good).

import type { Snapshot } from './registry.js';
import { destName, type DestEntry, serviceId, type Stats } from '../ipvs/types.js';
import { addrOf, protoOf } from './keys.js';
import { Slicer } from '../slices.js';

/** Rows read (or written) between two looks at the clock (a Slicer decides when the loop gets a turn). */
export const SLICE = 250;

const CHUNK = 64 * 1024;

/** Chunks handed back once the socket has written them, taken again by the next. */
export class ChunkPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep = 8) {}

  take(min = CHUNK): Buffer {
    return min <= CHUNK ? (this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK)) : Buffer.allocUnsafeSlow(min);
  }

  give(b: Buffer): void {
    if (b.length === CHUNK && this.free.length < this.keep) this.free.push(b);
  }
}

/** Where the text goes: a chunk written is not touched again until `written` is called. */
export interface Sink {
  /** false: wait for drained() before the next chunk. */
  write(chunk: Buffer, written: () => void): boolean;
  drained(): Promise<void>;
  /** The reader went away: the rest is not written. */
  readonly closed?: boolean;
}

type Utf8Buffer = Buffer & { utf8Write(s: string, off: number): number };

/** A growable typed array of numbers per row. */
class Column<T extends Float64Array | Uint32Array | Uint8Array> {
  constructor(public a: T) {}
  set(i: number, v: number): void {
    if (i === this.a.length) {
      const more = new (this.a.constructor as new (n: number) => T)(2 * this.a.length);
      more.set(this.a);
      this.a = more;
    }
    this.a[i] = v;
  }
}

/** Label sets one after another as UTF-8 bytes: no string per row survives the gathering. */
class LabelBytes {
  private buf = Buffer.allocUnsafeSlow(64 * 1024) as Utf8Buffer;
  /** Where each label set ends in buf. */
  private readonly ends = new Column(new Uint32Array(1024));
  count = 0;

  reset(): void {
    this.count = 0;
  }

  add(text: string): void {
    const at = this.count ? this.ends.a[this.count - 1]! : 0;
    if (at + text.length * 3 > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, at + text.length * 3)) as Utf8Buffer;
      this.buf.copy(bigger, 0, 0, at);
      this.buf = bigger;
    }
    this.ends.set(this.count, at + this.buf.utf8Write(text, at));
    this.count++;
  }

  length(i: number): number {
    const ends = this.ends.a;
    return ends[i]! - (i ? ends[i - 1]! : 0);
  }

  /** Copies label set i to dst at `at` (a byte loop: a native copy per line of 50 bytes cost more than the bytes). */
  copyTo(i: number, dst: Buffer, at: number): number {
    const src = this.buf;
    const ends = this.ends.a;
    for (let k = i ? ends[i - 1]! : 0, end = ends[i]!; k < end; k++) dst[at++] = src[k]!;
    return at;
  }
}

const RS_STATUSES = ['ONLINE', 'ERROR', 'DRAINING', 'DISABLED'] as const;
const VS_STATUSES = ['ONLINE', 'DEGRADED', 'OFFLINE'] as const;
/** A real server row's flags: it has a health check; the check says up. */
const HAS_HEALTH = 1;
const UP = 2;

/**
 * One scrape's rows. Kept by the metrics and reset for the next scrape: its
 * buffers grow to the size of the table once, then are written over.
 */
export class TableRows {
  /** IPVS services with counters: their label sets and counters (a few; plain arrays). */
  readonly vips: { labels: string; stats: Stats }[] = [];
  /** IPVS real servers: label sets `{addr=…,proto=…,vip=…,virtual_server=…}`, in `dests`' order. */
  readonly destLabels = new LabelBytes();
  readonly dests: DestEntry[] = [];
  /** Virtual servers: `{virtual_server="…",status=` is made when written (a few). */
  readonly vs: { name: string; status: string }[] = [];
  /** The director's real servers: label prefix `{virtual_server="…",addr="…"` (no closing brace). */
  readonly rsLabels = new LabelBytes();
  readonly rsStatus = new Column(new Uint8Array(1024));
  readonly rsFlags = new Column(new Uint8Array(1024));
  readonly rsChecks = new Column(new Float64Array(1024));
  readonly rsFailures = new Column(new Float64Array(1024));

  reset(): void {
    this.vips.length = 0;
    this.dests.length = 0;
    this.vs.length = 0;
    this.destLabels.reset();
    this.rsLabels.reset();
  }
}

const esc = (v: string) => (/[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);
const labels = (l: Record<string, string>) => {
  let out = '{';
  for (const k in l) out += `${out.length > 1 ? ',' : ''}${k}="${esc(l[k]!)}"`;
  return `${out}}`;
};

/** Reads the snapshot into `rows` (reset first), giving the loop a turn whenever a slice has taken its time. */
export async function gatherTable(s: Snapshot, rows: TableRows, slice = SLICE): Promise<TableRows> {
  rows.reset();
  const slicer = new Slicer();
  let budget = slice;
  // Whether to give the loop a turn (then `await slicer.yield()`): synchronous, no promise per row.
  const due = (): boolean => {
    if (--budget > 0 && !slicer.due()) return false;
    budget = slice;
    return true;
  };
  for (const svc of s.ipvs?.services ?? []) {
    const virtual_server = s.names.get(serviceId(svc.key)) ?? '';
    const addr = addrOf(svc.key);
    const proto = protoOf(svc.key);
    if (svc.stats) rows.vips.push({ labels: labels({ addr, proto, virtual_server }), stats: svc.stats });
    for (const d of svc.dests) {
      rows.destLabels.add(labels({ addr: destName(d.key), proto, vip: addr, virtual_server }));
      rows.dests.push(d);
      if (due()) await slicer.yield();
    }
  }
  let i = 0;
  for await (const v of s.views) {
    rows.vs.push({ name: v.name, status: v.status });
    const vs = `{virtual_server="${esc(v.name)}",addr="`;
    for (const r of v.realServers) {
      rows.rsLabels.add(`${vs}${esc(destName(r))}"`);
      rows.rsStatus.set(i, RS_STATUSES.indexOf(r.status as (typeof RS_STATUSES)[number]));
      rows.rsFlags.set(i, r.health ? HAS_HEALTH | (r.health.verdict === 'up' ? UP : 0) : 0);
      rows.rsChecks.set(i, r.health?.checks ?? 0);
      rows.rsFailures.set(i, r.health?.failures ?? 0);
      i++;
      if (due()) await slicer.yield();
    }
  }
  return rows;
}

/** Lines into 64 KB chunks, each handed to the sink when full. */
class ChunkWriter {
  private buf: Utf8Buffer;
  private at = 0;
  private lines = 0;
  /** The sink asked to wait (its write returned false): drained() before the next chunk. */
  private pending = false;
  private readonly slicer = new Slicer();

  constructor(
    private readonly sink: Sink,
    private readonly pool: ChunkPool,
    private readonly slice: number,
  ) {
    this.buf = pool.take() as Utf8Buffer;
  }

  /** Whether `n` more bytes fit in the chunk; if not, `await next(n)` first. */
  fits(n: number): boolean {
    return this.at + n <= this.buf.length;
  }

  /** Hands the chunk over, waits for the socket if it asks to, and takes one with room for `n` bytes. */
  async next(n = 0): Promise<void> {
    this.flush();
    if (this.sink.closed) throw new ScrapeAborted();
    if (this.pending) {
      this.pending = false;
      await this.sink.drained();
      if (this.sink.closed) throw new ScrapeAborted();
    }
    this.buf = this.pool.take(n) as Utf8Buffer;
  }

  private flush(): void {
    if (this.at === 0) return;
    const b = this.buf;
    if (!this.sink.write(b.subarray(0, this.at), () => this.pool.give(b))) this.pending = true;
    this.at = 0;
    this.buf = EMPTY;
  }

  /** After each line: every `slice` lines, the loop gets a turn if the slice has taken its time. */
  /**
   * A line ended: whether this slice has used its time — then `await w.pause()`.
   * Synchronous, as fits(): an async line() cost a promise and a suspension per
   * line (48,000 a scrape of 12,000 real servers, ~12 MB of garbage).
   */
  lineDue(): boolean {
    return ++this.lines % this.slice === 0 && this.slicer.due();
  }

  pause(): Promise<void> {
    return this.slicer.yield();
  }

  str(s: string): void {
    this.at += this.buf.utf8Write(s, this.at);
  }

  /** Bytes made once (a family's name, a suffix), copied by a loop: see LabelBytes.copyTo. */
  bytes(b: Uint8Array): void {
    const buf = this.buf;
    let at = this.at;
    for (let k = 0; k < b.length; k++) buf[at++] = b[k]!;
    this.at = at;
  }

  labels(from: LabelBytes, i: number): void {
    this.at = from.copyTo(i, this.buf, this.at);
  }

  /** The number and the line's end. Whole numbers (counts, 0 and 1) digit by digit, the others as JavaScript writes them. */
  num(v: number): void {
    const buf = this.buf;
    if (Number.isSafeInteger(v) && v >= 0) {
      let digits = 1;
      for (let p = 10; p <= v; p *= 10) digits++;
      let at = this.at + digits;
      this.at = at;
      do {
        buf[--at] = 0x30 + (v % 10);
        v = Math.floor(v / 10);
      } while (v > 0);
    } else this.at += buf.utf8Write(String(v), this.at);
    buf[this.at++] = 0x0a;
  }

  /** The last chunk; the writer is done. */
  end(): void {
    this.flush();
  }

  dispose(): void {
    if (this.buf !== EMPTY) this.pool.give(this.buf);
    this.buf = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0) as Utf8Buffer;
const SPACE = Buffer.from(' ');

/** The reader of the scrape went away. */
export class ScrapeAborted extends Error {
  constructor() {
    super('the scrape was aborted: its reader went away');
  }
}

/** Room for a line: the name, a label set of `n` bytes, a suffix and a number. */
const room = (name: string, n: number) => name.length + n + 64;

/** A family's header, then its lines: `each(w)` writes them, making room with fits()/next(). */
async function family(w: ChunkWriter, name: string, type: 'counter' | 'gauge', help: string, each: () => Promise<void>): Promise<void> {
  const head = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  if (!w.fits(head.length * 3)) await w.next(head.length * 3);
  w.str(head);
  await each();
}

const STATS: [keyof Stats, string, 'counter' | 'gauge', string][] = [
  ['connections', 'connections_total', 'counter', 'Connections (kernel counter)'],
  ['packetsIn', 'in_packets_total', 'counter', 'Incoming packets (kernel counter)'],
  ['packetsOut', 'out_packets_total', 'counter', 'Outgoing packets (kernel counter)'],
  ['bytesIn', 'in_bytes_total', 'counter', 'Incoming bytes (kernel counter)'],
  ['bytesOut', 'out_bytes_total', 'counter', 'Outgoing bytes (kernel counter)'],
  ['cps', 'connections_per_second', 'gauge', "Connections per second (the kernel's estimate)"],
  ['ppsIn', 'in_packets_per_second', 'gauge', "Incoming packets per second (the kernel's estimate)"],
  ['ppsOut', 'out_packets_per_second', 'gauge', "Outgoing packets per second (the kernel's estimate)"],
  ['bpsIn', 'in_bytes_per_second', 'gauge', "Incoming bytes per second (the kernel's estimate)"],
  ['bpsOut', 'out_bytes_per_second', 'gauge', "Outgoing bytes per second (the kernel's estimate)"],
];

/** The IPVS real server families read per real server (beside its counters). */
const DEST_GAUGES: [string, string, (d: DestEntry) => number][] = [
  ['vipd_lvs_rs_active_connections', 'Active connections of the real server (ipvsadm ActiveConn)', (d) => d.activeConns],
  ['vipd_lvs_rs_inactive_connections', 'Inactive connections of the real server (ipvsadm InActConn)', (d) => d.inactiveConns],
  ['vipd_lvs_rs_weight', 'Weight of the real server in the kernel', (d) => d.weight],
];

/** Writes the rows' families, in order, to the sink through chunks of the pool. Throws ScrapeAborted when the sink closes. */
export async function writeTable(rows: TableRows, sink: Sink, pool: ChunkPool, slice = SLICE): Promise<void> {
  const w = new ChunkWriter(sink, pool, slice);
  try {
    for (const [k, n, t, h] of STATS) {
      const name = `vipd_lvs_vip_${n}`;
      await family(w, name, t, `${h} of the virtual service`, async () => {
        for (const v of rows.vips) {
          if (!w.fits(room(name, v.labels.length * 3))) await w.next(room(name, v.labels.length * 3));
          w.str(name);
          w.str(v.labels);
          w.str(' ');
          w.num(v.stats[k]);
        }
      });
    }
    const perDest = async (name: string, value: (d: DestEntry) => number | undefined) => {
      const ls = rows.destLabels;
      const nameBytes = Buffer.from(name);
      for (let i = 0; i < rows.dests.length; i++) {
        const v = value(rows.dests[i]!);
        if (v === undefined) continue;
        if (!w.fits(room(name, ls.length(i)))) await w.next(room(name, ls.length(i)));
        w.bytes(nameBytes);
        w.labels(ls, i);
        w.bytes(SPACE);
        w.num(v);
        if (w.lineDue()) await w.pause();
      }
    };
    for (const [k, n, t, h] of STATS) {
      const name = `vipd_lvs_rs_${n}`;
      await family(w, name, t, `${h} of the real server`, () => perDest(name, (d) => d.stats?.[k]));
    }
    for (const [name, help, value] of DEST_GAUGES) await family(w, name, 'gauge', help, () => perDest(name, value));

    const ls = rows.rsLabels;
    /** Per director real server (those with `flag` set, if one): a line per suffix (closing the label set), its number value(i, s). */
    const perRs = async (name: string, flag: number, suffixes: readonly string[], value: (i: number, s: number) => number) => {
      const nameBytes = Buffer.from(name);
      const suffixBytes = suffixes.map((x) => Buffer.from(x));
      for (let i = 0; i < ls.count; i++) {
        if (flag && !(rows.rsFlags.a[i]! & flag)) continue;
        for (let s = 0; s < suffixBytes.length; s++) {
          if (!w.fits(room(name, ls.length(i)))) await w.next(room(name, ls.length(i)));
          w.bytes(nameBytes);
          w.labels(ls, i);
          w.bytes(suffixBytes[s]!);
          w.num(value(i, s));
        }
        if (w.lineDue()) await w.pause();
      }
    };
    const statusName = 'vipd_real_server_status';
    const statusSuffixes = RS_STATUSES.map((st) => `,status="${st}"} `);
    await family(w, statusName, 'gauge', "Real server status in Octavia's words: 1 for its status (ONLINE, ERROR, DRAINING, DISABLED), 0 for the others", () =>
      perRs(statusName, 0, statusSuffixes, (i, s) => (rows.rsStatus.a[i] === s ? 1 : 0)),
    );
    const healthyName = 'vipd_real_server_healthy';
    await family(w, healthyName, 'gauge', "1 when the real server's health check says up, 0 down (only real servers with a check)", () =>
      perRs(healthyName, HAS_HEALTH, ['} '], (i) => (rows.rsFlags.a[i]! & UP ? 1 : 0)),
    );
    const checksName = 'vipd_check_results_total';
    await family(w, checksName, 'counter', 'Health check results of the real server, by result (success, failure)', () =>
      perRs(checksName, HAS_HEALTH, [',result="success"} ', ',result="failure"} '], (i, s) => (s === 0 ? rows.rsChecks.a[i]! - rows.rsFailures.a[i]! : rows.rsFailures.a[i]!)),
    );
    const vsName = 'vipd_virtual_server_status';
    await family(w, vsName, 'gauge', 'Virtual server status: 1 for its status (ONLINE, DEGRADED, OFFLINE), 0 for the others', async () => {
      for (const v of rows.vs) {
        for (const st of VS_STATUSES) {
          const l = labels({ virtual_server: v.name, status: st });
          if (!w.fits(room(vsName, l.length * 3))) await w.next(room(vsName, l.length * 3));
          w.str(vsName);
          w.str(l);
          w.str(' ');
          w.num(v.status === st ? 1 : 0);
        }
      }
    });
    w.end();
  } finally {
    w.dispose();
  }
}

/** A sink that keeps a copy of everything written (tests; `VipdMetrics.scrape()`). */
export function collectingSink(): Sink & { text(): Buffer } {
  const parts: Buffer[] = [];
  return {
    write(chunk, written) {
      parts.push(Buffer.from(chunk));
      written();
      return true;
    },
    drained: () => Promise.resolve(),
    text: () => Buffer.concat(parts),
  };
}

/** The table's text, whole (tests). */
export async function renderTable(s: Snapshot, slice = SLICE): Promise<Buffer> {
  const sink = collectingSink();
  await writeTable(await gatherTable(s, new TableRows(), slice), sink, new ChunkPool(0), slice);
  return sink.text();
}
