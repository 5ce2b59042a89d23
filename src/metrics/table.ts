// The per-service and per-real-server series (IPVS counters, health), written
// as exposition text directly and a slice at a time: with 10,000 real servers
// they are some 200,000 lines, and building them through prom-client's label
// maps held the main thread — and the VRRP adverts on it — for about a second.
// Here the event loop gets a turn every SLICE real servers, and each line goes
// into a byte buffer of its family as soon as it is made: no array of 200,000
// strings surviving young-generation collections (the garbage collector was
// two thirds of a scrape's time), one label set per real server, and the answer
// is bytes ready for the socket.

import type { Snapshot } from './registry.js';
import { destName, serviceId, type Stats } from '../ipvs/types.js';
import { addrOf, protoOf } from './keys.js';
import { Slicer } from '../slices.js';

/** Real servers written between two turns of the event loop. */
export const SLICE = 250;

const CHUNK = 64 * 1024;

/**
 * The chunks of one scrape, handed back when its answers are written and taken by
 * the next: 7 MB of fresh buffers per scrape were freed only by the main thread's
 * next full collection, and 50 MB of them piled up between two (RSS +60 MB).
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep = 256) {}

  take(min: number): Buffer {
    return min <= CHUNK ? (this.free.pop() ?? Buffer.allocUnsafe(CHUNK)) : Buffer.allocUnsafe(min);
  }

  give(bufs: readonly Buffer[]): void {
    for (const b of bufs) if (b.length === CHUNK && this.free.length < this.keep) this.free.push(b);
  }

  get size(): number {
    return this.free.length;
  }
}

/** Bytes of one family's lines: filled chunk by chunk (a line is written once, never kept as a string). */
class Lines {
  private readonly chunks: Buffer[] = [];
  private buf: Buffer = Buffer.allocUnsafe(0);
  private at = 0;

  constructor(
    private readonly pool: ChunkPool,
    /** Every buffer taken from the pool, to give back. */
    private readonly taken: Buffer[],
  ) {}

  push(line: string): void {
    if (this.at + line.length * 3 + 1 > this.buf.length) {
      if (this.at) this.chunks.push(this.buf.subarray(0, this.at));
      this.buf = this.pool.take(line.length * 3 + 1);
      this.taken.push(this.buf);
      this.at = 0;
    }
    // utf8Write: Buffer#write without its argument and encoding dispatch (a quarter of a scrape's time).
    this.at += (this.buf as Buffer & { utf8Write(s: string, off: number): number }).utf8Write(line, this.at);
    this.buf[this.at++] = 0x0a;
  }

  bytes(): Buffer[] {
    return this.at ? [...this.chunks, this.buf.subarray(0, this.at)] : this.chunks;
  }
}

type Family = { name: string; type: 'counter' | 'gauge'; help: string; lines: Lines };

const RS_STATUSES = ['ONLINE', 'ERROR', 'DRAINING', 'DISABLED'] as const;
const VS_STATUSES = ['ONLINE', 'DEGRADED', 'OFFLINE'] as const;

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

const esc = (v: string) => (/[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);
const labels = (l: Record<string, string>) => {
  let out = '{';
  for (const k in l) out += `${out.length > 1 ? ',' : ''}${k}="${esc(l[k]!)}"`;
  return `${out}}`;
};

function families(pool: ChunkPool, taken: Buffer[]) {
  const f = (name: string, type: Family['type'], help: string): Family => ({ name, type, help, lines: new Lines(pool, taken) });
  return {
    vip: STATS.map(([k, n, t, h]) => [k, f(`vipd_lvs_vip_${n}`, t, `${h} of the virtual service`)] as const),
    rs: STATS.map(([k, n, t, h]) => [k, f(`vipd_lvs_rs_${n}`, t, `${h} of the real server`)] as const),
    rsActive: f('vipd_lvs_rs_active_connections', 'gauge', 'Active connections of the real server (ipvsadm ActiveConn)'),
    rsInactive: f('vipd_lvs_rs_inactive_connections', 'gauge', 'Inactive connections of the real server (ipvsadm InActConn)'),
    rsWeight: f('vipd_lvs_rs_weight', 'gauge', 'Weight of the real server in the kernel'),
    rsStatus: f('vipd_real_server_status', 'gauge', "Real server status in Octavia's words: 1 for its status (ONLINE, ERROR, DRAINING, DISABLED), 0 for the others"),
    rsHealthy: f('vipd_real_server_healthy', 'gauge', "1 when the real server's health check says up, 0 down (only real servers with a check)"),
    checks: f('vipd_check_results_total', 'counter', 'Health check results of the real server, by result (success, failure)'),
    vsStatus: f('vipd_virtual_server_status', 'gauge', 'Virtual server status: 1 for its status (ONLINE, DEGRADED, OFFLINE), 0 for the others'),
  };
}

const inOrder = (f: ReturnType<typeof families>): Family[] => [...f.vip.map(([, x]) => x), ...f.rs.map(([, x]) => x), f.rsActive, f.rsInactive, f.rsWeight, f.rsStatus, f.rsHealthy, f.checks, f.vsStatus];

/** A rendering: the text in chunks, and the pool's buffers under them (give them back once the chunks are written). */
export interface Rendered {
  chunks: Buffer[];
  taken: Buffer[];
}

/** The text in chunks of some 64 KB, written to the socket as they are (no copy of 7 MB into one buffer, twice). */
export async function renderTableChunks(s: Snapshot, slice = SLICE, pool = new ChunkPool(0)): Promise<Rendered> {
  const taken: Buffer[] = [];
  const f = families(pool, taken);
  // A turn of the loop every `slice` real servers, or sooner when a slice has taken its time (an emulated CPU).
  let budget = slice;
  const slicer = new Slicer();
  const tick = async () => {
    if (--budget > 0 && !slicer.due()) return;
    budget = slice;
    await slicer.yield();
  };
  for (const svc of s.ipvs?.services ?? []) {
    const virtual_server = s.names.get(serviceId(svc.key)) ?? '';
    const addr = addrOf(svc.key);
    const proto = protoOf(svc.key);
    if (svc.stats) {
      const l = labels({ addr, proto, virtual_server });
      for (const [k, fam] of f.vip) fam.lines.push(`${fam.name}${l} ${svc.stats[k]}`);
    }
    for (const d of svc.dests) {
      const l = labels({ addr: destName(d.key), proto, vip: addr, virtual_server });
      if (d.stats) for (const [k, fam] of f.rs) fam.lines.push(`${fam.name}${l} ${d.stats[k]}`);
      f.rsActive.lines.push(`${f.rsActive.name}${l} ${d.activeConns}`);
      f.rsInactive.lines.push(`${f.rsInactive.name}${l} ${d.inactiveConns}`);
      f.rsWeight.lines.push(`${f.rsWeight.name}${l} ${d.weight}`);
      await tick();
    }
  }
  for await (const v of s.views) {
    for (const st of VS_STATUSES) f.vsStatus.lines.push(`${f.vsStatus.name}${labels({ virtual_server: v.name, status: st })} ${v.status === st ? 1 : 0}`);
    const vs = `{virtual_server="${esc(v.name)}",addr="`;
    for (const r of v.realServers) {
      // One label prefix per real server, the rest appended (labels() per line was a seventh of the time).
      const base = `${vs}${esc(destName(r))}"`;
      for (const st of RS_STATUSES) f.rsStatus.lines.push(`${f.rsStatus.name}${base},status="${st}"} ${r.status === st ? 1 : 0}`);
      if (r.health) {
        f.rsHealthy.lines.push(`${f.rsHealthy.name}${base}} ${r.health.verdict === 'up' ? 1 : 0}`);
        f.checks.lines.push(`${f.checks.name}${base},result="success"} ${r.health.checks - r.health.failures}`);
        f.checks.lines.push(`${f.checks.name}${base},result="failure"} ${r.health.failures}`);
      }
      await tick();
    }
  }
  const out: Buffer[] = [];
  for (const fam of inOrder(f)) out.push(Buffer.from(`# HELP ${fam.name} ${fam.help}\n# TYPE ${fam.name} ${fam.type}\n`), ...fam.lines.bytes());
  return { chunks: out, taken };
}

export async function renderTable(s: Snapshot, slice = SLICE): Promise<Buffer> {
  return Buffer.concat((await renderTableChunks(s, slice)).chunks);
}
