// What the router asks of the things an instance tracks besides its links: the
// scripts (tracking.ts), the files (file-tracking.ts) and the processes
// (process-tracking.ts) are three sources behind one interface, each told the
// whole config at start and reload, each calling back when a verdict changed.

import type { Config, TrackRef } from '../config/types.js';
import type { Tracked } from '../vrrp/track.js';

export type TrackKind = 'trackScripts' | 'trackFiles' | 'trackProcesses';

export interface TrackSource {
  /** Tracks exactly what `cfg` tracks; a definition that did not change keeps its state. */
  set(cfg: Config): void;
  /** What `instance` tracks from this source, as of now. */
  tracked(instance: string): Tracked[];
  stop(): void;
}

/** The entries of `kind` an instance tracks: its own and its sync group's (keepalived: the group's count for every member). */
export function refsOf(cfg: Config | undefined, kind: TrackKind, instance: string): TrackRef[] {
  if (!cfg) return [];
  const own = cfg.instances.find((i) => i.name === instance)?.[kind] ?? [];
  const group = cfg.syncGroups.find((g) => g.instances.includes(instance))?.[kind] ?? [];
  return [...own, ...group];
}

/** The names some instance or sync group tracks (keepalived watches only those). */
export function usedNames(cfg: Config, kind: TrackKind): Set<string> {
  return new Set([...cfg.instances.flatMap((i) => i[kind]), ...cfg.syncGroups.flatMap((g) => g[kind])].map((r) => r.name));
}

/** The instances tracking `name`, directly or through their sync group. */
export function trackedBy(cfg: Config, kind: TrackKind, name: string): string[] {
  return cfg.instances.filter((i) => refsOf(cfg, kind, i.name).some((r) => r.name === name)).map((i) => i.name);
}

/** Calls `fn` once per turn of the event loop however often `poke()` is called before. */
export function coalesce(fn: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      fn();
    });
  };
}
