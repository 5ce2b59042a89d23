// Notify scripts and FIFOs, keepalived style (keepalived 2.2, vrrp_notify.c):
// on a transition the state's own script (notify_master, notify_backup,
// notify_fault, notify_stop) runs with the arguments configured and nothing
// appended; then the generic `notify` script, with TYPE NAME STATE PRIORITY
// appended (`INSTANCE VI_1 MASTER 150`, `GROUP G1 BACKUP 0`); then a line goes
// to each notify FIFO (notify-fifo.ts). Scripts run without a shell, as their
// user (global.script_user by default). Scripts of one instance run one after
// another, in transition order, so a slow notify_master never races the
// notify_backup that follows it. A script that outlives the timeout is killed
// with its process group; its failure is logged, never fatal. A script is done
// when it exits: a background child it leaves (`sleep 20 &`) keeps running,
// but holds up nothing.

import { spawn } from 'node:child_process';
import { afterOutput, killGroup } from '../process-group.js';
import type { GlobalConfig, NotifyScripts, ScriptCommand } from '../config/types.js';
import type { Logger } from '../log.js';
import { NotifyFifos } from './notify-fifo.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

export class Notifier {
  private queues = new Map<string, Promise<void>>();
  private runAs: ScriptCommand['runAs'];
  readonly fifos: NotifyFifos;

  constructor(
    private readonly log: Logger,
    private timeoutMs: number,
  ) {
    this.fifos = new NotifyFifos(log);
  }

  /** The global settings: script timeout, default user, notify FIFOs (at start and at every reload). */
  configure(g: Pick<GlobalConfig, 'scriptTimeoutMs' | 'scriptUser' | 'notifyFifos'>): void {
    this.timeoutMs = g.scriptTimeoutMs;
    this.runAs = g.scriptUser;
    this.fifos.configure(g.notifyFifos);
  }

  /** Queue the scripts for one transition of an INSTANCE or a GROUP, and write its FIFO line. */
  notify(type: 'INSTANCE' | 'GROUP', name: string, scripts: NotifyScripts, state: NotifyState, priority: number): void {
    const specific = { MASTER: scripts.master, BACKUP: scripts.backup, FAULT: scripts.fault, STOP: scripts.stop }[state];
    if (specific) this.script(`${type} ${name}`, specific, []);
    if (scripts.any) this.script(`${type} ${name}`, scripts.any, [type, name, state, String(priority)]);
    this.fifos.write(type, name, state, priority);
  }

  /** Queue one script (a path or a command with its arguments) with `args` appended, after the earlier scripts of the same `queue`. */
  script(queue: string, cmd: string | ScriptCommand, args: string[]): void {
    const c: ScriptCommand = typeof cmd === 'string' ? { argv: [cmd] } : cmd;
    const runAs = c.runAs ?? this.runAs;
    const prev = this.queues.get(queue) ?? Promise.resolve();
    const next = prev.then(() => this.run(c.argv[0]!, [...c.argv.slice(1), ...args], runAs));
    this.queues.set(queue, next);
    void next.finally(() => {
      if (this.queues.get(queue) === next) this.queues.delete(queue);
    });
  }

  /** Resolves when every queued script has finished (used on shutdown). */
  async drain(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  private run(path: string, args: string[], runAs: ScriptCommand['runAs']): Promise<void> {
    const started = performance.now();
    return new Promise((resolve) => {
      let output = '';
      // Its own process group: at the timeout the script dies with everything it started.
      const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
      const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...ids });
      const collect = (d: Buffer) => {
        if (output.length < 2000) output += d.toString();
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const timer = setTimeout(() => killGroup(child.pid), this.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        this.log.error({ script: path, args, user: runAs?.user, err: err.message }, `notify script ${path} could not run${runAs ? ` as ${runAs.user}` : ''}: ${err.message}`);
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
