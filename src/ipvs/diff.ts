// Level-triggered IPVS, the pure part: desired table + the kernel's table (a
// dump, or memory) -> the smallest list of operations that makes them equal.
// No I/O; the Reconciler (reconcile.ts) is the shell that dumps, applies and
// remembers ownership.
//
// - A service that exists with other settings is edited in place (SET), never
//   re-created: its connections survive.
// - A service vipd does not own (never programmed, or programmed by someone
//   else) is never touched, even when it is not in the desired table.
// - Nothing is flushed, ever, unless the caller asks for it explicitly.
// - A real server leaving the table can drain first: weight 0 now, deleted
//   after `drainMs` (new connections stop, established ones finish).

import type { IpvsOp } from './ops.js';
import { type Dest, destId, type Service, type ServiceEntry, serviceId } from './types.js';

export interface DesiredService extends Service {
  dests: Dest[];
}

/** A service in the kernel (a dump, or memory) with its real servers' settings (no counters: a diff does not read them). */
export interface CurrentService extends ServiceEntry {
  dests: Dest[];
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
    a === b ||
    (a.forwarding === b.forwarding &&
      a.weight === b.weight &&
      a.upperThreshold === b.upperThreshold &&
      a.lowerThreshold === b.lowerThreshold &&
      tunnelOf(a) === tunnelOf(b))
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
    // The common case without building ids: the kernel lists the same real servers
    // (newest first: IPVS adds at the head), so they pair up by position.
    const n = dests.length;
    if (n === c.dests.length && n > 0) {
      const rev = sameKey(dests[0]!, c.dests[n - 1]!);
      let i = 0;
      while (i < n && sameKey(dests[i]!, c.dests[rev ? n - 1 - i : i]!)) i++;
      if (i === n) {
        for (let j = 0; j < n; j++) if (!sameDestSettings(dests[j]!, c.dests[rev ? n - 1 - j : j]!)) editDests.push({ op: 'edit-dest', service: s.key, dest: dests[j]! });
        continue;
      }
    }
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

/** The same real server (what destId() says, without building it). */
const sameKey = (a: Dest, b: Dest): boolean => a === b || (a.key.port === b.key.port && a.key.address === b.key.address);

function settingsOf(s: DesiredService): Service {
  const { dests: _, ...settings } = s;
  return settings;
}

/** A real server's settings alone (an entry from the kernel also carries its counters). */
function destOf(d: Dest): Dest {
  const out: Dest = { key: d.key, forwarding: d.forwarding, weight: d.weight, upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold };
  if (d.tunnel) out.tunnel = d.tunnel;
  return out;
}

/**
 * The kernel's table as vipd last saw it (a dump) with every operation that
 * succeeded since applied: what a reconcile diffs against when it may trust
 * memory (a health verdict) instead of dumping 10,000 real servers again.
 * A failed operation changed nothing in the kernel, so it changes nothing here.
 * A real server written is kept as the operation's own object (the desired
 * table's: those are never changed in place), in the model's own lists.
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
  // Added: the kernel has just said it was not there (EEXIST otherwise), so no search (a load applies 10,000).
  if (o.op === 'add-dest') {
    svc.dests.push(o.dest);
    return;
  }
  // Compared field by field: a load applies 10,000 of these, and ids built per comparison were most of its time.
  const i = svc.dests.findIndex((d) => d.key.port === k.port && d.key.address === k.address);
  if (o.op === 'del-dest') {
    if (i >= 0) svc.dests.splice(i, 1);
    return;
  }
  if (i >= 0) svc.dests[i] = o.dest;
  else svc.dests.push(o.dest);
}

/** `table` with `part`'s services in place of those with the same identity (new ones at the end). */
export function withServices(table: readonly DesiredService[], part: readonly DesiredService[]): DesiredService[] {
  const byId = new Map(part.map((s) => [serviceId(s.key), s]));
  const out = table.map((s) => {
    const id = serviceId(s.key);
    const p = byId.get(id);
    byId.delete(id);
    return p ?? s;
  });
  return [...out, ...byId.values()];
}
