// The IPVS client: typed operations over generic netlink, one socket, batched
// writes. Reads are dumps; writes go through apply(), which packs many
// operations per datagram and reports each one's outcome.

import { resolveFamily, NETLINK_GENERIC } from '../net/genl.js';
import { Slicer } from '../slices.js';
import { NetlinkError, NLM_F_ACK, NLM_F_DUMP, type Payload } from '../net/netlink.js';
import { type BatchRequest, NetlinkSocket } from '../net/netlink-socket.js';
import {
  daemonOfReply,
  infoOfReply,
  IPVS_GENL_NAME,
  req,
  timeoutsOfReply,
} from './codec.js';
import { DestSlice, destSlices, serviceRecords } from './dump-records.js';
import { describeOp, fixFor, type IpvsOp, type OpResult } from './ops.js';
import { type Dest, type DestEntry, type Service, type ServiceEntry, type ServiceKey, serviceName, type SyncDaemon, type Timeouts } from './types.js';

function payloadOf(o: IpvsOp): Payload {
  switch (o.op) {
    case 'add-service':
      return req.newService(o.service);
    case 'edit-service':
      return req.setService(o.service);
    case 'del-service':
      return req.delService(o.key);
    case 'add-dest':
      return req.newDest(o.service, o.dest);
    case 'edit-dest':
      return req.setDest(o.service, o.dest);
    case 'del-dest':
      return req.delDest(o.service, o.dest);
  }
}

export interface IpvsTable {
  services: (ServiceEntry & { dests: DestEntry[] })[];
}

/** A service of a dump and its real servers as the addon read them. */
export interface DumpedService {
  service: ServiceEntry;
  dests: DestSlice;
}

/** The entry with its real servers in place (the dump's own object: no copy of 1,000 services). */
const withEntries = (d: DumpedService): ServiceEntry & { dests: DestEntry[] } => Object.assign(d.service, { dests: d.dests.entries() });

export class IpvsClient {
  private readonly sock: NetlinkSocket;
  private readonly family: number;

  constructor() {
    this.sock = new NetlinkSocket(NETLINK_GENERIC);
    try {
      this.family = resolveFamily(this.sock, IPVS_GENL_NAME);
    } catch (err) {
      this.sock.close();
      if (err instanceof NetlinkError && err.code === 'ENOENT')
        throw new NetlinkError('ENOENT', err.errno, 'IPVS is not available in this kernel: load it with "modprobe ip_vs" (and the schedulers, e.g. ip_vs_wrr)');
      throw err;
    }
  }

  private get(payload: Payload, dump: boolean, what: string) {
    return this.sock.request(this.family, dump ? NLM_F_DUMP : 0, payload, what);
  }

  info(): { version: string; connTableSize: number } {
    const m = this.get(req.getInfo(), false, 'get IPVS info')[0];
    if (!m) throw new Error('get IPVS info: no reply');
    return infoOfReply(m);
  }

  /** The services; `stats` adds their counters (a reconcile does without them: they were over half of a dump's decoding). */
  services(stats = true): ServiceEntry[] {
    const reqs = [{ type: this.family, flags: NLM_F_DUMP, payload: req.getServices(), operation: 'list services' }];
    return this.readDumps(reqs, (answers, first) => serviceRecords(answers, first, stats)).services;
  }

  dests(key: ServiceKey, stats = true): DestEntry[] {
    return this.destSlicesOf([key], stats)[0]!.entries();
  }

  /**
   * The real servers of each service, as the addon read them: one dump per service
   * (IPVS has no other), all in one call into the addon.
   */
  destSlicesOf(keys: readonly ServiceKey[], stats = true): DestSlice[] {
    const reqs = keys.map((k) => ({ type: this.family, flags: NLM_F_DUMP, payload: req.getDests(k), operation: () => `list real servers of ${serviceName(k)}` }));
    return this.readDumps(reqs, (answers, first) =>
      destSlices(
        answers,
        first,
        keys.map((k) => k.family),
        stats,
      ),
    ).slices;
  }

  /** Dumps whose answers the addon reads (`read`); a request without a clean end throws its error, as a request() would. */
  private readDumps<T extends { status: Int32Array }>(reqs: BatchRequest[], read: (answers: Buffer, first: number) => T): T {
    const { answers, first, check } = this.sock.dumpAnswers(reqs);
    const out = read(answers, first);
    if (out.status.some((x) => x !== 1)) check();
    return out;
  }

  /** The whole table: one service dump, then one destination dump per service. */
  table(opts: { stats?: boolean } = {}): IpvsTable {
    return { services: this.dump(opts.stats ?? true).map(withEntries) };
  }

  /** The same with the real servers as the addon read them (a reconcile compares them without making entries). */
  dump(stats = true): DumpedService[] {
    return this.withSlices(this.services(stats), stats);
  }

  /** Services with their real servers, dumped in one call into the addon. */
  private withSlices(services: ServiceEntry[], stats: boolean): DumpedService[] {
    const dests = this.destSlicesOf(
      services.map((s) => s.key),
      stats,
    );
    return services.map((service, i) => ({ service, dests: dests[i]! }));
  }

  /**
   * The same dump, giving the event loop a turn whenever a slice has taken its time
   * (dumped 4 services at a time: IPVS dumps real servers per service): the dump of a
   * 10,000-server table for a resync, a reload, a scrape or vipd status never holds the
   * loop — and the VRRP timers on it — for long. Slices of 50 services held it 260 ms
   * on an emulated CPU.
   */
  async dumpYielding(stats = true): Promise<DumpedService[]> {
    const slicer = new Slicer();
    await slicer.yield();
    const all = this.services(stats);
    const out: DumpedService[] = [];
    for (let i = 0; i < all.length; i += 4) {
      await slicer.next();
      out.push(...this.withSlices(all.slice(i, i + 4), stats));
    }
    return out;
  }

  /** dumpYielding() with the real servers as entries. */
  async tableYielding(opts: { stats?: boolean } = {}): Promise<IpvsTable> {
    return { services: (await this.dumpYielding(opts.stats ?? true)).map(withEntries) };
  }

  /** Applies operations in order, many per datagram. One failure does not stop the rest. */
  apply(ops: readonly IpvsOp[]): OpResult[] {
    const reqs: BatchRequest[] = ops.map((o) => ({ type: this.family, flags: NLM_F_ACK, payload: payloadOf(o), operation: () => describeOp(o) }));
    const errors = this.sock.batch(reqs);
    return ops.map((op, i) => {
      const error = errors[i];
      if (!error) return { op };
      const fix = fixFor(op, error.code);
      if (fix) error.message += `: ${fix}`;
      return { op, error };
    });
  }

  getTimeouts(): Timeouts {
    const m = this.get(req.getConfig(), false, 'get IPVS timeouts')[0];
    if (!m) throw new Error('get IPVS timeouts: no reply');
    return timeoutsOfReply(m);
  }

  /** Sets the tcp / tcpfin / udp timeouts (seconds); 0 leaves one unchanged. */
  setTimeouts(t: Timeouts): void {
    this.sock.request(this.family, NLM_F_ACK, req.setConfig(t), 'set IPVS timeouts');
  }

  daemons(): SyncDaemon[] {
    return this.get(req.getDaemons(), true, 'list sync daemons')
      .map(daemonOfReply)
      .filter((d): d is SyncDaemon => d !== undefined);
  }

  startDaemon(d: SyncDaemon): void {
    this.sock.request(this.family, NLM_F_ACK, req.newDaemon(d), `start ${d.state} sync daemon on ${d.interface}`);
  }

  stopDaemon(state: SyncDaemon['state']): void {
    this.sock.request(this.family, NLM_F_ACK, req.delDaemon(state), `stop ${state} sync daemon`);
  }

  /** Removes every service. Only on explicit request (flush-on-stop): established connections die with it. */
  flush(): void {
    this.sock.request(this.family, NLM_F_ACK, req.flush(), 'flush the IPVS table');
  }

  zero(): void {
    this.sock.request(this.family, NLM_F_ACK, req.zero(), 'zero IPVS counters');
  }

  close(): void {
    this.sock.close();
  }
}

export type { Dest, DestEntry, Service, ServiceEntry, ServiceKey };
