// Level-triggered IPVS: desired table + one dump of the kernel's -> the
// smallest list of operations that makes them equal. Pure; the Reconciler
// below is the thin shell that dumps, applies and remembers ownership.
//
// - A service that exists with other settings is edited in place (SET), never
//   re-created: its connections survive.
// - A service vipd does not own (never programmed, or programmed by someone
//   else) is never touched, even when it is not in the desired table.
// - Nothing is flushed, ever, unless the caller asks for it explicitly.
// - A real server leaving the table can drain first: weight 0 now, deleted
//   after `drainMs` (new connections stop, established ones finish).

import { readState, writeState } from '../state-file.js';
import type { Logger } from '../log.js';
import { describeOp, type IpvsClient, type IpvsOp, type OpResult } from './client.js';
import { type Dest, type DestEntry, destId, type Service, type ServiceEntry, serviceId } from './types.js';

export interface DesiredService extends Service {
  dests: Dest[];
}

export interface CurrentService extends ServiceEntry {
  dests: DestEntry[];
}

export interface DiffInput {
  desired: readonly DesiredService[];
  current: readonly CurrentService[];
  /** serviceId()s vipd programmed earlier: only these may be deleted. */
  owned: ReadonlySet<string>;
  /** Drain real servers that leave: weight 0 first, delete after this long. 0 = delete at once. */
  drainMs: number;
  now: number;
  /** `${serviceId}|${destId}` -> when draining started. */
  draining: ReadonlyMap<string, number>;
}

export interface DiffResult {
  ops: IpvsOp[];
  draining: Map<string, number>;
  /** The earliest time a draining real server is due for deletion (undefined: none). */
  nextDrainAt?: number;
}

export function sameServiceSettings(a: Service, b: Service): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.schedFlags.fallback === b.schedFlags.fallback &&
    a.schedFlags.port === b.schedFlags.port &&
    a.persistence === b.persistence &&
    (a.persistence === 0 || a.netmask === b.netmask) &&
    a.onePacket === b.onePacket &&
    (a.pe ?? '') === (b.pe ?? '')
  );
}

function tunnelOf(d: Dest): string {
  if (d.forwarding !== 'tunnel') return '';
  const t = d.tunnel ?? { type: 'ipip' as const };
  return t.type === 'ipip' ? 'ipip' : `${t.type}/${t.type === 'gue' ? (t.port ?? 0) : ''}/${t.checksum ?? 'none'}`;
}

export function sameDestSettings(a: Dest, b: Dest): boolean {
  return (
    a.forwarding === b.forwarding &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold &&
    tunnelOf(a) === tunnelOf(b)
  );
}

export function diffTables(input: DiffInput): DiffResult {
  const { desired, current, owned, drainMs, now } = input;
  const draining = new Map(input.draining);
  const cur = new Map(current.map((s) => [serviceId(s.key), s]));
  const want = new Set(desired.map((s) => serviceId(s.key)));
  const svcOps: IpvsOp[] = [];
  const delDests: IpvsOp[] = [];
  const editDests: IpvsOp[] = [];
  const addDests: IpvsOp[] = [];
  const delSvcs: IpvsOp[] = [];
  let nextDrainAt: number | undefined;
  const liveDrains = new Set<string>();

  for (const s of desired) {
    const sid = serviceId(s.key);
    const dests = s.dests;
    const c = cur.get(sid);
    if (!c) {
      svcOps.push({ op: 'add-service', service: settingsOf(s) });
      for (const d of dests) addDests.push({ op: 'add-dest', service: s.key, dest: d });
      continue;
    }
    if (!sameServiceSettings(s, c)) svcOps.push({ op: 'edit-service', service: settingsOf(s) });
    const have = new Map(c.dests.map((d) => [destId(d.key), d]));
    for (const d of dests) {
      const id = destId(d.key);
      const h = have.get(id);
      if (!h) addDests.push({ op: 'add-dest', service: s.key, dest: d });
      else if (!sameDestSettings(d, h)) editDests.push({ op: 'edit-dest', service: s.key, dest: d });
      have.delete(id);
    }
    // Real servers in the kernel that the desired table no longer has.
    for (const [did, h] of have) {
      const key = `${sid}|${did}`;
      if (drainMs <= 0) {
        delDests.push({ op: 'del-dest', service: s.key, dest: h.key });
        continue;
      }
      const since = draining.get(key) ?? (h.weight === 0 ? now : undefined);
      if (since === undefined) {
        editDests.push({ op: 'edit-dest', service: s.key, dest: { ...destOf(h), weight: 0 } });
        draining.set(key, now);
        liveDrains.add(key);
        nextDrainAt = Math.min(nextDrainAt ?? Infinity, now + drainMs);
      } else if (now - since >= drainMs) {
        delDests.push({ op: 'del-dest', service: s.key, dest: h.key });
        draining.delete(key);
      } else {
        draining.set(key, since);
        liveDrains.add(key);
        if (h.weight !== 0) editDests.push({ op: 'edit-dest', service: s.key, dest: { ...destOf(h), weight: 0 } });
        nextDrainAt = Math.min(nextDrainAt ?? Infinity, since + drainMs);
      }
    }
  }

  for (const [sid, c] of cur) if (!want.has(sid) && owned.has(sid)) delSvcs.push({ op: 'del-service', key: c.key });
  // Forget drains of real servers that came back or whose service went away.
  for (const k of [...draining.keys()]) if (!liveDrains.has(k)) draining.delete(k);

  return {
    ops: [...svcOps, ...delDests, ...editDests, ...addDests, ...delSvcs],
    draining,
    ...(nextDrainAt !== undefined ? { nextDrainAt } : {}),
  };
}

function settingsOf(s: DesiredService): Service {
  const { dests: _, ...settings } = s;
  return settings;
}

/** A real server's settings alone (an entry from the kernel also carries its counters). */
function destOf(d: Dest): Dest {
  return {
    key: d.key,
    forwarding: d.forwarding,
    weight: d.weight,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    ...(d.tunnel ? { tunnel: d.tunnel } : {}),
  };
}

/**
 * The kernel's table as vipd last saw it (a dump) with every operation that
 * succeeded since applied: what a reconcile diffs against when it may trust
 * memory (a health verdict) instead of dumping 10,000 real servers again.
 * A failed operation changed nothing in the kernel, so it changes nothing here.
 */
export function applyOpToModel(model: Map<string, CurrentService>, o: IpvsOp): void {
  const sid = serviceId(o.op === 'del-service' ? o.key : o.op === 'add-service' || o.op === 'edit-service' ? o.service.key : o.service);
  const svc = model.get(sid);
  switch (o.op) {
    case 'add-service':
      model.set(sid, { ...o.service, dests: [] });
      return;
    case 'edit-service':
      if (svc) model.set(sid, { ...svc, ...o.service, dests: svc.dests });
      return;
    case 'del-service':
      model.delete(sid);
      return;
  }
  if (!svc) return;
  const k = o.op === 'del-dest' ? o.dest : o.dest.key;
  // Compared field by field: a load applies 10,000 of these, and ids built per comparison were most of its time.
  const i = svc.dests.findIndex((d) => d.key.port === k.port && d.key.address === k.address);
  if (o.op === 'del-dest') {
    if (i >= 0) svc.dests.splice(i, 1);
    return;
  }
  const old = i >= 0 ? svc.dests[i] : undefined;
  const entry: DestEntry = {
    ...destOf(o.dest),
    activeConns: old?.activeConns ?? 0,
    inactiveConns: old?.inactiveConns ?? 0,
    persistentConns: old?.persistentConns ?? 0,
  };
  if (old) svc.dests[i] = entry;
  else svc.dests.push(entry);
}

export interface ReconcileReport {
  /** How the kernel's table was known: a dump, or memory (the last dump plus the operations since). */
  source: 'dump' | 'memory';
  /** A reconcile of some services found memory wrong: the whole table needs a reconcile now. */
  stale?: boolean;
  ops: number;
  applied: number;
  failed: { operation: string; code: string; message: string }[];
  dumpMs: number;
  applyMs: number;
  nextDrainAt?: number;
}

/** The shell: dump, diff, apply; remembers what it owns (optionally in a state file). */
export class Reconciler {
  private owned = new Set<string>();
  private draining = new Map<string, number>();
  /** See applyOpToModel; undefined until the first dump, and after an operation from memory failed. */
  private model: Map<string, CurrentService> | undefined;
  /** The owned set as last written to the state file (written only when it changes). */
  private savedOwned = '';

  constructor(
    private readonly client: IpvsClient,
    private readonly opts: { drainMs?: number; stateFile?: string; log?: Logger; now?: () => number } = {},
  ) {
    if (opts.stateFile) this.owned = new Set(readState<{ owned?: string[] }>(opts.stateFile)?.owned ?? []);
  }

  /** Whether the kernel's table is known (a dump happened and nothing failed since): reconciles of some services may then run. */
  get hasMemory(): boolean {
    return this.model !== undefined;
  }

  /** Drops the table in memory: the next reconcile dumps (after a failure left its state unknown). */
  forget(): void {
    this.model = undefined;
  }

  get ownedServices(): ReadonlySet<string> {
    return this.owned;
  }

  /**
   * Makes the kernel's table the desired one. `fromMemory`: diff against the table
   * as vipd knows it instead of dumping (health verdicts: a small change to a
   * possibly huge table); if an operation then fails the memory was wrong (someone
   * edited the table) and a full reconcile with a dump follows at once.
   */
  reconcile(
    desired: readonly DesiredService[],
    /** `dumped`: a dump the caller just made (with how long it took), used instead of dumping here. */
    opts: { fromMemory?: boolean; only?: ReadonlySet<string>; dumped?: { services: CurrentService[]; ms: number } } = {},
  ): ReconcileReport {
    const now = this.opts.now?.() ?? Date.now();
    const source = opts.fromMemory && this.model && !opts.dumped ? 'memory' : 'dump';
    // `only` (serviceIds, from memory): `desired` holds just these services; the rest is not looked at.
    const only = source === 'memory' ? opts.only : undefined;
    if (opts.only && !only) throw new Error('a reconcile of some services needs the table in memory (see hasMemory)');
    let t0 = performance.now();
    const current =
      source === 'dump'
        ? (opts.dumped?.services ?? this.client.table({ stats: false }).services)
        : only
          ? [...only].map((id) => this.model!.get(id)).filter((c): c is CurrentService => c !== undefined)
          : [...this.model!.values()];
    const dumpMs = opts.dumped?.ms ?? performance.now() - t0;
    // Everything desired is ours from now on (also what we find already there with the same identity).
    for (const s of desired) this.owned.add(serviceId(s.key));
    const d = diffTables({ desired, current, owned: this.owned, drainMs: this.opts.drainMs ?? 0, now, draining: this.draining });
    // The diff forgets drains it did not see: keep those of the services it was not shown.
    this.draining = only ? new Map([...[...this.draining].filter(([k]) => !only.has(k.slice(0, k.indexOf('|')))), ...d.draining]) : d.draining;
    t0 = performance.now();
    const results: OpResult[] = d.ops.length ? this.client.apply(d.ops) : [];
    const applyMs = performance.now() - t0;
    const failed: ReconcileReport['failed'] = [];
    // One line per change when a person can read them all; a big load (start-up of a large
    // table) logs its summary only, the single operations at debug level.
    const level = results.length <= 100 ? 'info' : 'debug';
    if (source === 'dump') this.model = new Map(current.map((c) => [serviceId(c.key), { ...c, dests: [...c.dests] }]));
    for (const r of results) {
      if (!r.error) applyOpToModel(this.model!, r.op);
      if (r.op.op === 'del-service' && (!r.error || r.error.code === 'ESRCH')) this.owned.delete(serviceId(r.op.key));
      if (r.error) {
        failed.push({ operation: describeOp(r.op), code: r.error.code, message: r.error.message });
        this.opts.log?.error({ event: 'ipvs-op-failed', op: r.op.op, code: r.error.code }, r.error.message);
      } else this.opts.log?.[level]({ event: 'ipvs-op', op: r.op.op }, describeOp(r.op));
    }
    this.saveState();
    if (source === 'memory' && failed.length) {
      this.model = undefined;
      this.opts.log?.warn({ event: 'ipvs-memory-stale', failed: failed.length }, `IPVS: ${failed.length} operation(s) failed against the table as vipd knew it; reconciling with a fresh dump`);
      // Some services only: the caller must reconcile the whole table (a dump of a part would delete the rest).
      if (only) return { source, ops: d.ops.length, applied: results.length - failed.length, failed, dumpMs, applyMs, stale: true };
      return this.reconcile(desired);
    }
    return {
      source,
      ops: d.ops.length,
      applied: results.length - failed.length,
      failed,
      dumpMs,
      applyMs,
      ...(d.nextDrainAt !== undefined ? { nextDrainAt: d.nextDrainAt } : {}),
    };
  }

  private saveState(): void {
    if (!this.opts.stateFile) return;
    const owned = [...this.owned].sort();
    const text = owned.join('\n');
    if (text === this.savedOwned) return;
    try {
      writeState(this.opts.stateFile, { owned });
      this.savedOwned = text;
    } catch (err) {
      // The table is right; only a restart's memory of what is ours would be stale.
      this.opts.log?.error({ event: 'ipvs-state-save-failed', err: (err as Error).message }, `cannot save ${this.opts.stateFile}: ${(err as Error).message}`);
    }
  }
}

