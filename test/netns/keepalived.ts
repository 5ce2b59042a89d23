// Runs Debian's keepalived (VRRP subsystem only) inside a lab host, as the
// reference peer for interop tests and benchmarks.

import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, waitFor } from './lab.js';

export interface KeepalivedInstance {
  name: string;
  interface: string;
  vrid: number;
  priority: number;
  /** Seconds. */
  advertInt: number;
  version: 2 | 3;
  vips: string[];
  authPass?: string;
  nopreempt?: boolean;
  unicastSrc?: string;
  unicastPeers?: string[];
}

export function keepalivedConf(routerId: string, instances: KeepalivedInstance[]): string {
  const blocks = instances.map((i) =>
    [
      `vrrp_instance ${i.name} {`,
      `  state BACKUP`,
      `  interface ${i.interface}`,
      `  virtual_router_id ${i.vrid}`,
      `  priority ${i.priority}`,
      `  advert_int ${i.advertInt}`,
      `  version ${i.version}`,
      ...(i.nopreempt ? ['  nopreempt'] : []),
      ...(i.authPass ? ['  authentication {', '    auth_type PASS', `    auth_pass ${i.authPass}`, '  }'] : []),
      ...(i.unicastSrc ? [`  unicast_src_ip ${i.unicastSrc}`] : []),
      ...(i.unicastPeers?.length ? ['  unicast_peer {', ...i.unicastPeers.map((p) => `    ${p}`), '  }'] : []),
      '  virtual_ipaddress {',
      ...i.vips.map((v) => `    ${v} dev ${i.interface}`),
      '  }',
      '}',
    ].join('\n'),
  );
  return [`global_defs {`, `  router_id ${routerId}`, `  enable_script_security`, `  script_user root`, `}`, ...blocks, ''].join('\n');
}

export class KeepalivedProc {
  readonly output: string[] = [];
  readonly child: ChildProcess;
  private readonly vrrpPidFile: string;
  private readonly exited: Promise<void>;
  exitCode: number | null | undefined = undefined;

  constructor(
    readonly lab: Lab,
    readonly host: string,
    /** The instances of a generated keepalived.conf, or a whole file's text (with the config id its @id lines match: keepalived -i). */
    instances: KeepalivedInstance[] | { conf: string; configId?: string },
  ) {
    const conf = join(lab.dir, `${host}-keepalived.conf`);
    writeFileSync(conf, Array.isArray(instances) ? keepalivedConf(host, instances) : instances.conf);
    const configId = Array.isArray(instances) ? undefined : instances.configId;
    this.vrrpPidFile = join(lab.dir, `${host}-vrrp.pid`);
    rmSync(this.vrrpPidFile, { force: true }); // a killed predecessor's file would look like a ready process
    this.child = lab.spawn(host, 'keepalived', [
      '--dont-fork',
      '--log-console',
      '--log-detail',
      '--vrrp',
      '--use-file', conf,
      '--pid', join(lab.dir, `${host}-keepalived.pid`),
      '--vrrp_pid', this.vrrpPidFile,
      '--checkers_pid', join(lab.dir, `${host}-checkers.pid`),
      ...(configId !== undefined ? ['--config-id', configId] : []),
    ]);
    const keep = (d: Buffer) => this.output.push(d.toString());
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  log(): string {
    return this.output.join('');
  }

  vrrpPid(): number | undefined {
    if (!existsSync(this.vrrpPidFile)) return undefined;
    const pid = Number(readFileSync(this.vrrpPidFile, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  }

  async ready(): Promise<void> {
    await waitFor(`keepalived on ${this.host} to start its VRRP process (log: ${this.log().slice(-400)})`, () => this.vrrpPid() !== undefined, 10_000);
  }

  /** SIGKILL to the parent and the VRRP child at once: no priority-0 advert, VIPs stay. */
  killHard(): void {
    // Freeze the parent first: killed first, its VRRP child would get a
    // parent-death signal and resign gracefully; killed last, it would respawn the child.
    const signal = (pid: number | undefined, sig: NodeJS.Signals) => {
      try {
        if (pid) process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    };
    signal(this.child.pid, 'SIGSTOP');
    signal(this.vrrpPid(), 'SIGKILL');
    signal(this.child.pid, 'SIGKILL');
  }

  /** Graceful stop: the VRRP child sends priority 0 and removes the VIPs. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    if (this.child.pid) process.kill(this.child.pid, 'SIGTERM');
    await Promise.race([this.exited, new Promise((_, rej) => setTimeout(() => rej(new Error('keepalived did not stop')), timeoutMs).unref())]);
  }

  async waitExit(): Promise<void> {
    await this.exited;
  }
}
