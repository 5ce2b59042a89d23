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
    const { dests, ...settings } = s;
    const c = cur.get(sid);
    if (!c) {
      svcOps.push({ op: 'add-service', service: settings });
      for (const d of dests) addDests.push({ op: 'add-dest', service: s.key, dest: d });
      continue;
    }
    if (!sameServiceSettings(settings, c)) svcOps.push({ op: 'edit-service', service: settings });
    const have = new Map(c.dests.map((d) => [destId(d.key), d]));
    for (const d of dests) {
      const h = have.get(destId(d.key));
      if (!h) addDests.push({ op: 'add-dest', service: s.key, dest: d });
      else if (!sameDestSettings(d, h)) editDests.push({ op: 'edit-dest', service: s.key, dest: d });
      have.delete(destId(d.key));
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

function destOf(d: DestEntry): Dest {
  return {
    key: d.key,
    forwarding: d.forwarding,
    weight: d.weight,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    ...(d.tunnel ? { tunnel: d.tunnel } : {}),
  };
}

export interface ReconcileReport {
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

  constructor(
    private readonly client: IpvsClient,
    private readonly opts: { drainMs?: number; stateFile?: string; log?: Logger; now?: () => number } = {},
  ) {
    if (opts.stateFile) this.owned = new Set(readState<{ owned?: string[] }>(opts.stateFile)?.owned ?? []);
  }

  get ownedServices(): ReadonlySet<string> {
    return this.owned;
  }

  reconcile(desired: readonly DesiredService[]): ReconcileReport {
    const now = this.opts.now?.() ?? Date.now();
    let t0 = performance.now();
    const current = this.client.table().services;
    const dumpMs = performance.now() - t0;
    // Everything desired is ours from now on (also what we find already there with the same identity).
    for (const s of desired) this.owned.add(serviceId(s.key));
    const d = diffTables({ desired, current, owned: this.owned, drainMs: this.opts.drainMs ?? 0, now, draining: this.draining });
    this.draining = d.draining;
    t0 = performance.now();
    const results: OpResult[] = d.ops.length ? this.client.apply(d.ops) : [];
    const applyMs = performance.now() - t0;
    const failed: ReconcileReport['failed'] = [];
    // One line per change when a person can read them all; a big load (start-up of a large
    // table) logs its summary only, the single operations at debug level.
    const level = results.length <= 100 ? 'info' : 'debug';
    for (const r of results) {
      if (r.op.op === 'del-service' && (!r.error || r.error.code === 'ESRCH')) this.owned.delete(serviceId(r.op.key));
      if (r.error) {
        failed.push({ operation: describeOp(r.op), code: r.error.code, message: r.error.message });
        this.opts.log?.error({ event: 'ipvs-op-failed', op: r.op.op, code: r.error.code }, r.error.message);
      } else this.opts.log?.[level]({ event: 'ipvs-op', op: r.op.op }, describeOp(r.op));
    }
    this.saveState();
    return {
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
    try {
      writeState(this.opts.stateFile, { owned: [...this.owned].sort() });
    } catch (err) {
      // The table is right; only a restart's memory of what is ours would be stale.
      this.opts.log?.error({ event: 'ipvs-state-save-failed', err: (err as Error).message }, `cannot save ${this.opts.stateFile}: ${(err as Error).message}`);
    }
  }
}

