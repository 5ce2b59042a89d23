// `vipd withdraw`: deletes the announced VIPs' routes a vipd left behind. The
// unit runs it as ExecStopPost= after the daemon has exited, however it exited:
// a daemon that stopped gracefully withdrew its routes itself (nothing left to
// do); one that was killed (kill -9, the watchdog, a crash) left them in
// announce.table, where the routing daemon would go on announcing a director
// that no longer checks its real servers. A restart announces them again once
// the new daemon has quorum.
//
// What goes: the routes the state file remembers (a reload may have moved the
// table) and every route of vipd's protocol (86) in the configured table; with
// no readable config, every route of protocol 86 in any table.

import { type RouteSpec, RtRoutes } from '../net/rtroute.js';
import { readState, writeState } from '../state-file.js';
import { announcedStateFile, RTPROT_VIPD, type Saved } from './announcer.js';

export interface WithdrawScope {
  /** The control socket of the config (the state file lives beside it). */
  controlSocket?: string;
  /** announce.table of the config; undefined: every table. */
  table?: number;
}

/** The kernel side, injectable for unit tests. */
export interface WithdrawOps {
  routes(family: 'inet' | 'inet6'): RouteSpec[];
  del(r: RouteSpec): boolean;
}

/** Deletes the routes; returns those that were there. */
export function withdrawLeftovers(scope: WithdrawScope, ops: WithdrawOps): RouteSpec[] {
  const stateFile = scope.controlSocket !== undefined ? announcedStateFile(scope.controlSocket) : undefined;
  const saved = stateFile !== undefined ? (readState<Saved>(stateFile)?.routes ?? []) : [];
  const tables = new Set(saved.map((r) => r.table));
  if (scope.table !== undefined) tables.add(scope.table);
  const gone: RouteSpec[] = [];
  for (const family of ['inet', 'inet6'] as const) {
    for (const r of ops.routes(family)) {
      if (r.protocol !== RTPROT_VIPD || (scope.table !== undefined && !tables.has(r.table))) continue;
      if (ops.del(r)) gone.push(r);
    }
  }
  if (stateFile !== undefined && saved.length > 0) writeState(stateFile, { routes: [] } satisfies Saved);
  return gone;
}

export function hostWithdrawOps(): WithdrawOps & { close(): void } {
  const rt = new RtRoutes();
  return { routes: (f) => rt.routes(f), del: (r) => rt.delRoute(r, undefined), close: () => rt.close() };
}
