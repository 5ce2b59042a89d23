// Runs the real `vipd run` (bin/vipd.js, built dist/) inside a lab host and
// reads its JSON log lines and its control socket; Daemons keeps a test file's
// daemons, starts a master/backup pair one after the other and kills them all
// after each test.

import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { request } from '../../src/daemon/control.js';
import type { RouterStatus } from '../../src/vrrp/router.js';
import { VIPD_NODE_ENV, VIPD_NODE_FLAGS } from '../vm/guest/harness.js';
import { type Lab, waitFor } from './lab.js';

export const VIPD_BIN = fileURLToPath(new URL('../../bin/vipd.js', import.meta.url));
export { VIPD_NODE_ENV, VIPD_NODE_FLAGS };

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [k: string]: unknown;
}

export interface DaemonStatus {
  vrrp: RouterStatus;
  [k: string]: unknown;
}

export class VipdProc {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly child: ChildProcess;
  readonly configFile: string;
  readonly socket: string;
  exitCode: number | null | undefined = undefined;
  private readonly exited: Promise<number | null>;

  constructor(
    readonly lab: Lab,
    readonly host: string,
    config: Record<string, unknown>,
    env: NodeJS.ProcessEnv = {},
    /** A command that runs node, e.g. setpriv with its options (no capabilities). */
    wrap: string[] = [],
  ) {
    this.configFile = join(lab.dir, `${host}.yaml`);
    this.socket = join(lab.dir, `${host}.sock`);
    this.write(config);
    const argv = [...VIPD_NODE_FLAGS, VIPD_BIN, 'run', '-c', this.configFile, '--json'];
    const all = { ...VIPD_NODE_ENV, ...env };
    this.child = wrap.length > 0 ? lab.spawn(host, wrap[0]!, [...wrap.slice(1), process.execPath, ...argv], all) : lab.spawn(host, process.execPath, argv, all);
    let buf = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.stderr.push(line);
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => this.stderr.push(d));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, sig) => {
        this.exitCode = code ?? (sig ? -1 : null);
        resolve(code);
      }),
    );
  }

  /** Writes the config file; `global.control_socket` is always this host's own. */
  write(config: Record<string, unknown>): void {
    const global = { router_id: this.host, control_socket: this.socket, ...(config.global as object | undefined) };
    writeFileSync(this.configFile, stringify({ ...config, global }));
  }

  async status(): Promise<DaemonStatus> {
    return (await request(this.socket, { cmd: 'status' }, 2000)) as DaemonStatus;
  }

  async state(instance: string): Promise<string | undefined> {
    const s = await this.status();
    return s.vrrp.instances.find((i) => i.name === instance)?.state;
  }

  async waitState(instance: string, state: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(`${this.host} ${instance} to be ${state} (log tail: ${this.tail()})`, async () => (await this.state(instance)) === state, timeoutMs);
  }

  async ready(timeoutMs = 10_000): Promise<void> {
    await waitFor(`${this.host} vipd to start (stderr: ${this.stderr.join('').slice(-500)})`, async () => {
      if (this.exitCode !== undefined) throw new Error(`vipd exited with ${this.exitCode}: ${this.stderr.join('').slice(-500)}`);
      return (await this.status()).vrrp !== undefined;
    }, timeoutMs);
  }

  transitions(instance?: string): LogLine[] {
    return this.logs.filter((l) => l.event === 'vrrp-transition' && (!instance || l.instance === instance));
  }

  tail(n = 5): string {
    return this.logs
      .slice(-n)
      .map((l) => l.msg)
      .join(' | ');
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exitCode === undefined && this.child.pid) process.kill(this.child.pid, signal);
  }

  /** Waits for exit; the exit code (null when killed by a signal). */
  wait(timeoutMs = 10_000): Promise<number | null> {
    return Promise.race([
      this.exited,
      new Promise<number | null>((_, rej) => setTimeout(() => rej(new Error(`${this.host} vipd did not exit within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  }
}

/** The names of the VRRP instances of a config in YAML form. */
const instanceNames = (config: Record<string, unknown>): string[] => Object.keys((config.vrrp_instances as object | undefined) ?? {});

/** The daemons a test file starts: `start` one, `masterThenBackup` a pair, `killAll` in afterEach. */
export class Daemons {
  private readonly running: VipdProc[] = [];

  /** `lab` is read at each start: test files make their lab in beforeAll. */
  constructor(private readonly lab: () => Lab) {}

  start(host: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, wrap: string[] = []): VipdProc {
    const p = new VipdProc(this.lab(), host, config, env, wrap);
    this.running.push(p);
    return p;
  }

  /**
   * The intended master on lb1, then the backup on lb2: lb1 is started and waited for until
   * each of its instances is MASTER, only then lb2, until each of its instances is BACKUP.
   * Started together, lb2 (Master_Down_Interval 0.361 s at 0.1 s adverts) became master for
   * a moment whenever lb1's node started more than 20 ms later — a race of the test, not of vipd.
   */
  async masterThenBackup(master: Record<string, unknown>, backup: Record<string, unknown>): Promise<[VipdProc, VipdProc]> {
    const a = this.start('lb1', master);
    await a.ready();
    for (const name of instanceNames(master)) await a.waitState(name, 'MASTER');
    const b = this.start('lb2', backup);
    await b.ready();
    for (const name of instanceNames(backup)) await b.waitState(name, 'BACKUP');
    return [a, b];
  }

  /** kill -9 of every daemon started since the last call, and their exits awaited. */
  async killAll(): Promise<void> {
    for (const p of this.running.splice(0)) {
      p.kill('SIGKILL');
      await p.wait().catch(() => undefined);
    }
  }
}
