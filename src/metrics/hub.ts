// Events the metrics count as they happen (not readable from a status at scrape
// time): IPVS reconciles. The IPVS manager reports here; the metrics listen. No
// listener (metrics off): a report costs one function call.

import type { ReconcileReport } from '../ipvs/reconcile.js';

/** What ran: a full reconcile (start, reload, retry), a periodic resync, or some services from memory (a verdict, an operator). */
export type ReconcileKind = 'reconcile' | 'resync' | 'verdict';
type Listener = (kind: ReconcileKind, report: ReconcileReport | undefined) => void;

let listener: Listener | undefined;

export function onReconcile(l: Listener | undefined): void {
  listener = l;
}

/** A reconcile ended: its report, or undefined when its netlink exchange itself failed. */
export function reconcileDone(kind: ReconcileKind, report: ReconcileReport | undefined): void {
  listener?.(kind, report);
}
