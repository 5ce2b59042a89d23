// vrrp_script / track_script at run time: the scripts some instance or sync group
// tracks run in a checker process of their own (health/thread.ts with isolation
// 'process': another event loop, and the forks of 100 scripts a second do not stall
// the daemon's main thread) — on the main thread while they are at most 10 runs a
// second (keepalived's VRRP process forks its scripts itself), with keepalived's rise,
// fall and init_fail; their verdicts come back as messages and become the router's
// tracking inputs (vrrp/track.ts decides priority and FAULT, the FSM the rest).

import type { Config, VrrpScriptConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { CheckerThread } from '../health/thread.js';
import { checkKey, type CheckSpec } from '../health/types.js';
import type { ScriptStatus, Tracked } from '../vrrp/track.js';
import { coalesce, refsOf, trackedBy, type TrackSource, usedNames } from './track-source.js';

function spec(s: VrrpScriptConfig): CheckSpec {
  return {
    type: 'vrrp_script',
    address: '',
    port: 0,
    intervalMs: s.intervalMs,
    timeoutMs: s.timeoutMs,
    rise: s.rise,
    fall: s.fall,
    command: s.command,
    ...(s.user ? { uid: s.user.uid, gid: s.user.gid } : {}),
  };
}

export class ScriptTracking implements TrackSource {
  private readonly thread: CheckerThread;
  private cfg: Config | undefined;
  /** Script name -> its check key (scripts that are not tracked are not here: keepalived runs only those). */
  private keys = new Map<string, string>();

  constructor(
    private readonly log: Logger,
    /** Told (once per turn of the event loop) that some script's verdict changed. */
    onChange: () => void,
  ) {
    const changed = coalesce(onChange);
    this.thread = new CheckerThread((state, previous) => {
      for (const [name, key] of this.keys) {
        if (key !== state.key) continue;
        const to = state.verdict === 'up' ? 'OK' : 'FAILED';
        this.log.info(
          { event: 'vrrp-script', script: name, from: previous === 'up' ? 'OK' : 'FAILED', to, reason: state.last?.reason },
          `vrrp_script ${name} is ${to}${state.last ? ` (${state.last.reason})` : ''}`,
        );
      }
      changed();
    }, log, 0, 'process'); // nice 0: a script's verdict is an election input; a process of its own: see thread.ts
  }

  /** Runs exactly the scripts `cfg` tracks; a script whose definition did not change keeps its state. */
  set(cfg: Config): void {
    this.cfg = cfg;
    const used = usedNames(cfg, 'trackScripts');
    for (const name of cfg.announce.trackScripts) used.add(name); // the ECMP tier's host health
    const wanted = new Map<string, { spec: CheckSpec; alpha: boolean }>();
    this.keys = new Map();
    for (const s of cfg.vrrpScripts) {
      if (!used.has(s.name)) continue;
      const sp = spec(s);
      // init_fail is part of the identity: a script that gains it starts over, failed.
      const key = `${checkKey(sp)}${s.initFail ? '#init_fail' : ''}`;
      this.keys.set(s.name, key);
      wanted.set(key, { spec: sp, alpha: s.initFail });
    }
    this.thread.set(wanted);
  }

  /** What `instance` tracks among the scripts, as of the last verdicts. */
  tracked(instance: string): Tracked[] {
    return refsOf(this.cfg, 'trackScripts', instance).map((r) => {
      const key = this.keys.get(r.name);
      const up = key !== undefined && this.thread.get(key)?.verdict === 'up';
      return { what: `vrrp_script ${r.name}`, weight: r.weight, reverse: r.reverse, up };
    });
  }

  /** Which of `names` are not OK now (a script with no verdict yet counts as OK unless init_fail). */
  failing(names: readonly string[]): string[] {
    return names.filter((n) => {
      const key = this.keys.get(n);
      return key === undefined || this.thread.get(key)?.verdict === 'down';
    });
  }

  async status(): Promise<ScriptStatus[]> {
    await this.thread.refresh();
    const c = this.cfg;
    if (!c) return [];
    return c.vrrpScripts.flatMap((s) => {
      const key = this.keys.get(s.name);
      const st = key !== undefined ? this.thread.get(key) : undefined;
      if (!st) return [];
      return [{
        name: s.name,
        state: st.verdict === 'up' ? 'OK' : 'FAILED',
        command: s.command.join(' '),
        ...(st.last ? { last: { ok: st.last.ok, reason: st.last.reason, ms: Math.round(st.last.ms), at: new Date(st.last.at).toISOString() } } : {}),
        checks: st.checks,
        failures: st.failures,
        trackedBy: trackedBy(c, 'trackScripts', s.name),
      } satisfies ScriptStatus];
    });
  }

  stop(): void {
    this.thread.stop();
  }
}
