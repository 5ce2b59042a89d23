// Level-triggered IPVS, the shell: dump the kernel's table (or trust memory),
// diff it against the desired one (diff.ts, pure), apply the difference in one
// batch, and remember which services vipd owns (optionally in a state file).

import { readState, writeState } from '../state-file.js';
import type { Logger } from '../log.js';
import type { DumpedService, IpvsClient } from './client.js';
import { applyOpToModel, type CurrentService, type DesiredService, diffTables } from './diff.js';
import { describeOp, type OpResult } from './ops.js';
import { serviceId, serviceIdOf } from './types.js';

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
  /** Whether the owned set changed since the state file was last written (a no-op reconcile of 1,000 services sorted and joined them all). */
  private ownedChanged = true;
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
    opts: { fromMemory?: boolean; only?: ReadonlySet<string>; dumped?: { services: DumpedService[]; ms: number } } = {},
  ): ReconcileReport {
    const now = this.opts.now?.() ?? Date.now();
    const source = opts.fromMemory && this.model && !opts.dumped ? 'memory' : 'dump';
    // `only` (serviceIds, from memory): `desired` holds just these services; the rest is not looked at.
    const only = source === 'memory' ? opts.only : undefined;
    if (opts.only && !only) throw new Error('a reconcile of some services needs the table in memory (see hasMemory)');
    let t0 = performance.now();
    const current =
      source === 'dump'
        ? currentOf(opts.dumped?.services ?? this.client.dump(false), desired)
        : only
          ? [...only].map((id) => this.model!.get(id)).filter((c): c is CurrentService => c !== undefined)
          : [...this.model!.values()];
    const dumpMs = opts.dumped?.ms ?? performance.now() - t0;
    // Everything desired is ours from now on (also what we find already there with the same identity).
    const ownedBefore = this.owned.size;
    for (const s of desired) this.owned.add(serviceId(s.key));
    if (this.owned.size !== ownedBefore) this.ownedChanged = true;
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
    // Asked once: a load would otherwise build 11,000 descriptions for a level that is off.
    const logOps = this.opts.log?.isLevelEnabled(level) === true;
    // The dump becomes the model (made for this reconcile: it changes in place from here).
    if (source === 'dump') this.model = new Map(current.map((c) => [serviceId(c.key), c]));
    for (const r of results) {
      if (!r.error) applyOpToModel(this.model!, r.op);
      if (r.op.op === 'del-service' && (!r.error || r.error.code === 'ESRCH') && this.owned.delete(serviceId(r.op.key))) this.ownedChanged = true;
      if (r.error) {
        failed.push({ operation: describeOp(r.op), code: r.error.code, message: r.error.message });
        this.opts.log?.error({ event: 'ipvs-op-failed', op: r.op.op, code: r.error.code }, r.error.message);
      } else if (logOps) this.opts.log![level]({ event: 'ipvs-op', op: r.op.op }, describeOp(r.op));
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
    if (!this.opts.stateFile || !this.ownedChanged) return;
    const owned = [...this.owned].sort();
    const text = owned.join('\n');
    if (text === this.savedOwned) {
      this.ownedChanged = false;
      return;
    }
    try {
      writeState(this.opts.stateFile, { owned });
      this.savedOwned = text;
      this.ownedChanged = false;
    } catch (err) {
      // The table is right; only a restart's memory of what is ours would be stale.
      this.opts.log?.error({ event: 'ipvs-state-save-failed', err: (err as Error).message }, `cannot save ${this.opts.stateFile}: ${(err as Error).message}`);
    }
  }
}


/**
 * The dumped services as a diff reads them. A service whose real servers are
 * exactly the desired ones (compared on the addon's numbers) gets those, the
 * desired entries themselves in a list of its own: a no-op reconcile of 10,000 real
 * servers makes no entry; the others get entries made from the dump. A dumped
 * service that is desired takes the desired key (the same identity, so equal):
 * its id is then remembered, where the dump's own key would be new each time.
 */
function currentOf(dumped: readonly DumpedService[], desired: readonly DesiredService[]): CurrentService[] {
  const want = new Map<string, DesiredService>();
  for (const s of desired) want.set(serviceId(s.key), s);
  return dumped.map(({ service, dests }) => {
    const w = want.get(serviceIdOf(service.key));
    const c = service as CurrentService;
    if (w) c.key = w.key;
    c.dests = w && dests.sameAs(w.dests) ? w.dests.slice() : dests.entries();
    return c;
  });
}
