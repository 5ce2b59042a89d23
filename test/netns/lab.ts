// A network lab built from real kernel objects: one network namespace per host,
// a "switch" namespace holding Linux bridges, veth pairs as cables. Every name
// starts with `vt-` so a killed run's left-overs can be found and removed.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// VIPD_NS_PREFIX: another prefix for a second suite running beside this one on the same machine
// (each run removes the left-overs of its own prefix only).
export const NS_PREFIX = process.env.VIPD_NS_PREFIX ?? 'vt-';

export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(opts.input !== undefined ? { input: opts.input } : {}) });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export function listNamespaces(prefix = NS_PREFIX): string[] {
  return sh('ip', ['netns', 'list'], { allowFail: true })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

/** Kills every process inside our namespaces and deletes the namespaces. */
export function cleanupNamespaces(prefix = NS_PREFIX): void {
  for (const ns of listNamespaces(prefix)) {
    for (const pid of sh('ip', ['netns', 'pids', ns], { allowFail: true }).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string | (() => string), fn: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(stepMs);
  }
}

export interface Port {
  /** Interface name inside the host. */
  ifname: string;
  /** Bridge in the switch namespace. */
  bridge: string;
  /** Address with prefix, e.g. 10.99.0.11/24. */
  cidr?: string;
}

export class Lab {
  readonly dir: string;
  private readonly hosts = new Set<string>();
  private readonly bridges = new Set<string>();
  private readonly children = new Set<ChildProcess>();

  /** `id` names the lab: namespaces are `vt-<id>-<host>` (NS_PREFIX). Keep it short. */
  constructor(readonly id: string) {
    this.dir = mkdtempSync(join(tmpdir(), `vt-${id}-`));
    cleanupNamespaces(`${NS_PREFIX}${id}-`);
    this.addNs('sw');
  }

  ns(host: string): string {
    return `${NS_PREFIX}${this.id}-${host}`;
  }

  private addNs(host: string): void {
    sh('ip', ['netns', 'add', this.ns(host)]);
    this.hosts.add(host);
    this.ip(host, ['link', 'set', 'lo', 'up']);
  }

  ip(host: string, args: string[], allowFail = false): string {
    return sh('ip', ['-n', this.ns(host), ...args], { allowFail });
  }

  exec(host: string, cmd: string, args: string[], allowFail = false): string {
    return sh('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { allowFail });
  }

  bridge(name: string): void {
    if (this.bridges.has(name)) return;
    this.ip('sw', ['link', 'add', name, 'type', 'bridge']);
    // No STP delays: ports forward as soon as they are up.
    this.ip('sw', ['link', 'set', name, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    this.ip('sw', ['link', 'set', name, 'up']);
    this.bridges.add(name);
  }

  /** Switch-side name of a host's port. */
  portName(host: string, ifname: string): string {
    const n = `${host}-${ifname}`;
    if (n.length > 15) throw new Error(`port name ${n} longer than 15 characters`);
    return n;
  }

  addHost(host: string, ports: Port[]): void {
    this.addNs(host);
    for (const p of ports) {
      this.bridge(p.bridge);
      const sw = this.portName(host, p.ifname);
      this.ip('sw', ['link', 'add', sw, 'type', 'veth', 'peer', 'name', p.ifname, 'netns', this.ns(host)]);
      this.ip('sw', ['link', 'set', sw, 'master', p.bridge]);
      this.ip('sw', ['link', 'set', sw, 'up']);
      if (p.cidr) this.ip(host, ['addr', 'add', p.cidr, 'dev', p.ifname]);
      this.ip(host, ['link', 'set', p.ifname, 'up']);
    }
  }

  /** Cable pulled (or plugged back) at the switch: the host sees carrier loss. */
  setCable(host: string, ifname: string, up: boolean): void {
    this.ip('sw', ['link', 'set', this.portName(host, ifname), up ? 'up' : 'down']);
  }

  /** Bridge port isolation: isolated ports cannot talk to each other, only to non-isolated ones. */
  setIsolated(host: string, ifname: string, on: boolean): void {
    sh('bridge', ['-n', this.ns('sw'), 'link', 'set', 'dev', this.portName(host, ifname), 'isolated', on ? 'on' : 'off']);
  }

  mac(host: string, ifname: string): string {
    const m = /link\/ether ([0-9a-f:]{17})/.exec(this.ip(host, ['link', 'show', ifname]));
    if (!m?.[1]) throw new Error(`no MAC on ${host}:${ifname}`);
    return m[1];
  }

  hasAddress(host: string, ip: string, ifname?: string): boolean {
    const out = this.ip(host, ['-4', '-o', 'addr', 'show', ...(ifname ? ['dev', ifname] : [])], true);
    return out.split('\n').some((l) => l.includes(` ${ip}/`));
  }

  /** The MAC in `host`'s neighbour table for `ip`, if it has one. */
  neighbourMac(host: string, ip: string): string | undefined {
    const out = this.ip(host, ['neigh', 'show', ip], true);
    return /lladdr ([0-9a-f:]{17})/.exec(out)?.[1];
  }

  ping(host: string, ip: string, timeoutS = 1): boolean {
    try {
      execFileSync('ip', ['netns', 'exec', this.ns(host), 'ping', '-n', '-q', '-c', '1', '-W', String(timeoutS), ip], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * tcpdump on a host's interface with a filter, from now until stop(): each packet's
   * line with its kernel timestamp in seconds (-tt), the link-layer header shown (-e).
   */
  async capture(host: string, ifname: string, filter: string): Promise<{ stop(): Promise<{ t: number; line: string }[]> }> {
    const dump = this.spawn(host, 'tcpdump', ['-i', ifname, '-n', '-e', '-tt', '-l', '-U', filter]);
    let text = '';
    let listening = false;
    dump.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
    dump.stderr!.setEncoding('utf8').on('data', (d: string) => (listening ||= d.includes('listening')));
    await waitFor(`tcpdump to listen on ${host} ${ifname}`, () => listening, 5000);
    return {
      stop: async () => {
        await sleep(100); // what is on the wire now reaches the capture
        dump.kill('SIGTERM');
        await new Promise((r) => (dump.exitCode !== null ? r(undefined) : dump.once('exit', r)));
        return text
          .split('\n')
          .filter(Boolean)
          .map((line) => ({ t: Number(line.split(' ')[0]), line }));
      },
    };
  }

  /** Starts a long-running process in a host; killed (whole group) by destroy(). */
  spawn(host: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...env },
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  async destroy(): Promise<void> {
    for (const c of this.children) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    cleanupNamespaces(`${NS_PREFIX}${this.id}-`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
