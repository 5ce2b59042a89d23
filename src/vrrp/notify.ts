// Notify scripts, keepalived style: `script TYPE NAME STATE PRIORITY`, e.g.
// `notify.sh INSTANCE VI_1 MASTER 150` or `notify.sh GROUP G1 BACKUP 0`.
// Scripts of one instance run one after another, in transition order, so a
// slow notify_master never races the notify_backup that follows it. A script
// that outlives the timeout is killed with its process group; its failure is
// logged, never fatal. A script is done when it exits: a background child it
// leaves (`sleep 20 &`) keeps running, but holds up nothing.

import { spawn } from 'node:child_process';
import { afterOutput, killGroup } from '../process-group.js';
import type { NotifyScripts } from '../config/types.js';
import type { Logger } from '../log.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

export class Notifier {
  private queues = new Map<string, Promise<void>>();

  constructor(
    private readonly log: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** Queue the scripts for one transition of an INSTANCE or a GROUP. */
  notify(type: 'INSTANCE' | 'GROUP', name: string, scripts: NotifyScripts, state: NotifyState, priority: number): void {
    const specific = { MASTER: scripts.master, BACKUP: scripts.backup, FAULT: scripts.fault, STOP: scripts.stop }[state];
    const paths = [specific, scripts.any].filter((p): p is string => p !== undefined);
    if (paths.length === 0) return;
    for (const path of paths) this.script(`${type} ${name}`, path, [type, name, state, String(priority)]);
  }

  /** Queue one script with its arguments, after the earlier scripts of the same `queue`. */
  script(queue: string, path: string, args: string[]): void {
    const prev = this.queues.get(queue) ?? Promise.resolve();
    const next = prev.then(() => this.run(path, args));
    this.queues.set(queue, next);
    void next.finally(() => {
      if (this.queues.get(queue) === next) this.queues.delete(queue);
    });
  }

  /** Resolves when every queued script has finished (used on shutdown). */
  async drain(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  private run(path: string, args: string[]): Promise<void> {
    const started = performance.now();
    return new Promise((resolve) => {
      let output = '';
      // Its own process group: at the timeout the script dies with everything it started.
      const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const collect = (d: Buffer) => {
        if (output.length < 2000) output += d.toString();
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const timer = setTimeout(() => killGroup(child.pid), this.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        this.log.error({ script: path, args, err: err.message }, `notify script ${path} could not run: ${err.message}`);
        resolve();
      });
      // 'exit', not 'close': a background child (`sleep 20 &`) holds the pipes open
      // long after the script is done, and the next notify must not wait for it.
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        afterOutput(child, () => {
          const ms = Math.round(performance.now() - started);
          const fields = { script: path, args, code, signal, ms, output: output.trim() || undefined };
          if (code === 0) this.log.debug(fields, `notify script ${path} ${args.join(' ')} done`);
          else if (signal === 'SIGKILL')
            this.log.error(fields, `notify script ${path} killed after ${this.timeoutMs} ms (global.script_timeout)`);
          else this.log.warn(fields, `notify script ${path} ${args.join(' ')} exited ${code ?? signal}`);
          resolve();
        });
      });
    });
  }
}
