// vipd's Prometheus metrics (prom-client): what an operator watches a director
// by. Names follow Prometheus conventions; where keepalived_exporter has the same
// metric the label names are its own (iname, intf, vrid, ip_address; addr, proto),
// see README's Metrics section for the mapping.
//
// Two kinds: events counted as they happen (transitions, reconciles), and state
// read at scrape time from one snapshot (the VRRP status, one IPVS dump, the
// director's view). A scrape while another is running shares its snapshot: the
// kernel's table is dumped once however many scrapers ask.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { VsView } from '../director/desired.js';
import { DURATION_BUCKETS, type HistogramData, LAG_BUCKETS, type TimingsSnapshot } from '../health/timings.js';
import type { IpvsTable } from '../ipvs/client.js';
import type { ReconcileReport } from '../ipvs/reconcile.js';
import type { ServiceKey } from '../ipvs/types.js';
import type { VrrpState } from '../vrrp/fsm-types.js';
import type { RouterStatus } from '../vrrp/router.js';
import { type ReconcileKind } from './hub.js';
import { transitionReason, USUAL_TRANSITIONS } from './reason.js';
import { ChunkPool, collectingSink, gatherTable, type Sink, TableRows, writeTable } from './table.js';
import { turn } from '../slices.js';

const STATES: readonly VrrpState[] = ['INIT', 'BACKUP', 'MASTER', 'FAULT'];

/** One snapshot read into rows, shared by the scrapes that asked while it was made. */
interface Gathering {
  /** prom-client's part of the text (VRRP, events, process), then the table's rows. */
  ready: Promise<Buffer>;
  rows: TableRows;
  /** Scrapes still writing it; at 0 its rows are kept for a later scrape. */
  users: number;
}

/** A scrape whose snapshot is read: write it (to one reader), then call done(). */
export interface Scraping {
  write(sink: Sink): Promise<void>;
  done(): void;
}

/** What a scrape reads, once. */
export interface Snapshot {
  vrrp: RouterStatus;
  /** Whether IPVS is in use (virtual servers configured, or its client open). */
  ipvsWanted: boolean;
  /** The kernel's table with counters; undefined: IPVS unavailable or its dump failed. */
  ipvs: IpvsTable | undefined;
  /** serviceId -> the virtual server's name in the config. */
  names: ReadonlyMap<string, string>;
  /** The director's view: per virtual server and real server, status and check counts. */
  /** Each virtual server's view; made one at a time as the scrape writes them (an array in tests). */
  views: Iterable<VsView> | AsyncIterable<VsView>;
  /** Per virtual server name: its service address (addr label) and protocol. */
  vsKeys: ReadonlyMap<string, ServiceKey>;
  /** Check durations per type and the checkers' start lag (cumulative since start). */
  checkTimings?: TimingsSnapshot;
}

export interface Sources {
  snapshot(): Promise<Snapshot>;
}

const VRRP = ['iname', 'intf', 'vrid'] as const;


export class VipdMetrics {
  readonly registry = new Registry();
  private inflight: Gathering | undefined;
  private readonly pool = new ChunkPool();
  /** Rows of finished scrapes, written over by the next (their buffers have the table's size already). */
  private readonly spareRows: TableRows[] = [];
  /** Instances whose usual transitions have their series at 0 already. */
  private readonly known = new Set<string>();

  // ---- events
  private readonly transitions = new Counter({ name: 'vipd_vrrp_transitions_total', help: 'VRRP state transitions, by from, to and reason', labelNames: [...VRRP, 'from', 'to', 'reason'], registers: [this.registry] });
  private readonly reconciles = new Counter({ name: 'vipd_ipvs_reconciles_total', help: 'IPVS reconciles, by kind (reconcile, resync, verdict) and how the table was known (dump, memory; error: the netlink exchange failed)', labelNames: ['kind', 'source'], registers: [this.registry] });
  private readonly reconcileOps = new Counter({ name: 'vipd_ipvs_reconcile_operations_total', help: 'IPVS operations sent by reconciles', labelNames: ['kind'], registers: [this.registry] });
  private readonly reconcileFailed = new Counter({ name: 'vipd_ipvs_reconcile_operation_failures_total', help: 'IPVS operations the kernel refused', labelNames: ['kind'], registers: [this.registry] });
  private readonly reconcileDump = new Histogram({ name: 'vipd_ipvs_reconcile_dump_seconds', help: "Time to dump the kernel's IPVS table for a reconcile", labelNames: ['kind'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  private readonly reconcileApply = new Histogram({ name: 'vipd_ipvs_reconcile_apply_seconds', help: 'Time to apply the operations of a reconcile', labelNames: ['kind'], buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [this.registry] });

  // ---- VRRP, at scrape time
  private readonly state = new Gauge({ name: 'vipd_vrrp_state', help: 'VRRP state: 1 for the state the instance is in, 0 for the others (one series per VIP, as keepalived_exporter)', labelNames: [...VRRP, 'ip_address', 'state'], registers: [this.registry] });
  private readonly advertsReceived = new Counter({ name: 'vipd_vrrp_advertisements_received_total', help: 'VRRP adverts received for the instance', labelNames: [...VRRP], registers: [this.registry] });
  private readonly advertsSent = new Counter({ name: 'vipd_vrrp_advertisements_sent_total', help: 'VRRP adverts sent by the instance', labelNames: [...VRRP], registers: [this.registry] });
  private readonly becameMaster = new Counter({ name: 'vipd_vrrp_become_master_total', help: 'Times the instance became MASTER', labelNames: [...VRRP], registers: [this.registry] });
  private readonly dropped = new Counter({ name: 'vipd_vrrp_adverts_dropped_total', help: 'Adverts dropped by the instance, by reason (ttl, version-mismatch, auth-mismatch, interval-mismatch, bad-interval, not-a-peer, own-advert)', labelNames: [...VRRP, 'reason'], registers: [this.registry] });
  private readonly packetsDropped = new Counter({ name: 'vipd_vrrp_packets_dropped_total', help: 'VRRP packets dropped on an interface before any instance (malformed, unknown VRID), by reason', labelNames: ['intf', 'reason'], registers: [this.registry] });
  private readonly priority = new Gauge({ name: 'vipd_vrrp_priority', help: 'Configured VRRP priority', labelNames: [...VRRP], registers: [this.registry] });
  private readonly effPriority = new Gauge({ name: 'vipd_vrrp_effective_priority', help: 'VRRP priority in effect (tracked interfaces applied)', labelNames: [...VRRP], registers: [this.registry] });
  private readonly lastTransition = new Gauge({ name: 'vipd_vrrp_last_transition_timestamp_seconds', help: 'Unix time of the last transition', labelNames: [...VRRP], registers: [this.registry] });
  private readonly sinceTransition = new Gauge({ name: 'vipd_vrrp_time_since_transition_seconds', help: 'Seconds since the last transition', labelNames: [...VRRP], registers: [this.registry] });
  private readonly master = new Gauge({ name: 'vipd_vrrp_master_info', help: 'The master this instance knows of (itself when MASTER): always 1, the address in master_address', labelNames: [...VRRP, 'master_address'], registers: [this.registry] });

  // ---- IPVS, at scrape time (one dump)
  private readonly ipvsUp = new Gauge({ name: 'vipd_ipvs_up', help: "1 when the kernel's IPVS table could be read at this scrape, 0 when IPVS is unavailable or the dump failed", registers: [this.registry] });
  private readonly scrapeSeconds = new Gauge({ name: 'vipd_metrics_scrape_duration_seconds', help: 'Time the previous scrape took to gather its snapshot', registers: [this.registry] });
  private lastScrapeSeconds = 0;
  private timings: TimingsSnapshot | undefined;

  constructor(private readonly sources: Sources) {
    // process_* and nodejs_*: CPU, memory, heap, event loop lag, GC.
    collectDefaultMetrics({ register: this.registry });
    // Histograms counted in the checker thread, exposed as they are (prom-client cannot take buckets).
    this.registry.registerMetric(prebucketed('vipd_check_duration_seconds', 'Health check duration, by check type (tcp, http, https, ping, script, udp, dns, smtp, file)', DURATION_BUCKETS, () =>
      Object.entries(this.timings?.duration ?? {}).map(([type, h]) => ({ labels: { type }, h })),
    ) as never);
    this.registry.registerMetric(prebucketed('vipd_check_lag_seconds', "How late health checks started against their schedule: the checker thread's lag (the main thread's while the checks are few enough to run there)", LAG_BUCKETS, () =>
      this.timings ? [{ labels: {}, h: this.timings.lag }] : [],
    ) as never);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  transition(inst: { name: string; interface: string; vrid: number }, from: VrrpState, to: VrrpState, reason: string): void {
    this.transitions.inc({ iname: inst.name, intf: inst.interface, vrid: String(inst.vrid), from, to, reason: transitionReason(to, reason) });
  }

  reconcile(kind: ReconcileKind, r: ReconcileReport | undefined): void {
    this.reconciles.inc({ kind, source: r ? r.source : 'error' });
    if (!r) return;
    this.reconcileOps.inc({ kind }, r.ops);
    this.reconcileFailed.inc({ kind }, r.failed.length);
    if (r.source === 'dump') this.reconcileDump.observe({ kind }, r.dumpMs / 1000);
    this.reconcileApply.observe({ kind }, r.applyMs / 1000);
  }

  /** The exposition text (UTF-8 bytes), whole. */
  async scrape(): Promise<Buffer> {
    const scraping = await this.begin();
    try {
      const sink = collectingSink();
      await scraping.write(sink);
      return sink.text();
    } finally {
      scraping.done();
    }
  }

  /**
   * Reads the snapshot (rejects if it fails: nothing is written yet); concurrent
   * scrapes share one snapshot and its rows, each then writes the text to its own
   * reader. Call `done()` once written: when every scrape sharing the rows has,
   * they are kept for the next scrape.
   */
  async begin(): Promise<Scraping> {
    if (!this.inflight) {
      const g: Gathering = { users: 0, rows: this.spareRows.pop() ?? new TableRows(), ready: Promise.resolve(Buffer.alloc(0)) };
      g.ready = (async () => {
        try {
          const t0 = performance.now();
          const snap = await this.sources.snapshot();
          this.lastScrapeSeconds = (performance.now() - t0) / 1000;
          // A turn of the loop between the parts: each is short natively, together they held the
          // loop for 0.58 s on an emulated CPU (prom-client's own metrics run in one go).
          await turn();
          this.apply(snap);
          const head = await this.registry.metrics();
          await turn();
          await gatherTable(snap, g.rows);
          return Buffer.from(head.endsWith('\n') ? head : `${head}\n`);
        } finally {
          this.inflight = undefined;
        }
      })();
      this.inflight = g;
    }
    const g = this.inflight;
    g.users++;
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      if (--g.users > 0) return;
      g.rows.reset();
      if (this.spareRows.length < 2) this.spareRows.push(g.rows);
    };
    let head: Buffer;
    try {
      head = await g.ready;
    } catch (err) {
      done();
      throw err;
    }
    return {
      done,
      write: async (sink) => {
        if (!sink.write(head, () => undefined)) await sink.drained();
        await writeTable(g.rows, sink, this.pool);
      },
    };
  }

  /** Sets every scrape-time metric from the snapshot (series of removed instances or servers disappear). */
  apply(s: Snapshot): void {
    for (const m of [this.state, this.advertsReceived, this.advertsSent, this.becameMaster, this.dropped, this.packetsDropped, this.priority, this.effPriority, this.lastTransition, this.sinceTransition, this.master]) m.reset();
    this.scrapeSeconds.set(this.lastScrapeSeconds);
    this.timings = s.checkTimings;
    const now = Date.now();
    for (const i of s.vrrp.instances) {
      const l = { iname: i.name, intf: i.interface, vrid: String(i.vrid) };
      const key = JSON.stringify(l);
      if (!this.known.has(key)) {
        this.known.add(key);
        for (const [from, to, reason] of USUAL_TRANSITIONS) this.transitions.inc({ ...l, from, to, reason }, 0);
      }
      for (const vip of i.vips.length ? i.vips : ['']) {
        const ip_address = vip.split('/')[0]!;
        for (const st of STATES) this.state.set({ ...l, ip_address, state: st }, i.state === st ? 1 : 0);
      }
      this.advertsReceived.inc(l, i.counters.advertsReceived);
      this.advertsSent.inc(l, i.counters.advertsSent);
      this.becameMaster.inc(l, i.counters.becameMaster);
      for (const [reason, n] of Object.entries(i.counters.dropped)) this.dropped.inc({ ...l, reason }, n ?? 0);
      this.priority.set(l, i.priority);
      this.effPriority.set(l, i.effectivePriority);
      const at = Date.parse(i.sinceWall);
      this.lastTransition.set(l, at / 1000);
      this.sinceTransition.set(l, Math.max(0, (now - at) / 1000));
      if (i.masterIp !== undefined) this.master.set({ ...l, master_address: i.masterIp }, 1);
    }
    for (const itf of s.vrrp.interfaces)
      for (const [reason, n] of Object.entries(itf.counters.dropped)) this.packetsDropped.inc({ intf: itf.name, reason }, n ?? 0);

    this.ipvsUp.set(s.ipvs ? 1 : 0);
  }
}

/** A histogram whose buckets were counted elsewhere, in prom-client's shape of a metric. */
function prebucketed(name: string, help: string, bounds: readonly number[], series: () => { labels: Record<string, string>; h: HistogramData }[]) {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const { labels, h } of series()) {
        let cumulative = 0;
        bounds.forEach((le, i) => {
          cumulative += h.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
        values.push({ metricName: `${name}_sum`, labels, value: h.sum });
        values.push({ metricName: `${name}_count`, labels, value: h.count });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}
