// vipd daemons in the guest: started on a config file (in a namespace or not),
// their output collected, their status read over the control socket.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonStatus } from '../../../src/cli/status-format.js';
import { ROOT, sh, track, VIPD, VIPD_NODE_ENV, VIPD_NODE_FLAGS } from './harness.js';

/** The daemons' directory of their own (as vipd requires: not the 9p share): configs, sockets, state. */
export const RUN = '/run/vipd-test';
export const runDir = (): void => void mkdirSync(RUN, { recursive: true, mode: 0o700 });

/** The two ends of the load-balanced traffic (servers and clients), run in namespaces. */
export const PEER = join(ROOT, 'dist-test/test/vm/guest/lb-peer.js');

export interface Vipd {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | string | null>;
}

/** `vipd run -c CONFIG --json`, in namespace ns if given; killed with the scenario (`owner`: by whoever else owns it). */
export function runVipd(config: string, ns?: string, owner: <C extends ChildProcess>(c: C) => C = track): Vipd {
  const argv = [process.execPath, ...VIPD_NODE_FLAGS, VIPD, 'run', '-c', config, '--json'];
  const opts = { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...VIPD_NODE_ENV } };
  const child = owner(ns ? spawn('ip', ['netns', 'exec', ns, ...argv], opts) : spawn(argv[0]!, argv.slice(1), opts));
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  // The exit code, or the signal's name when one ended it.
  const exited = new Promise<number | string | null>((r) => child.once('exit', (code, sig) => r(code ?? sig)));
  return { child, log: () => log, exited };
}

/** vipd on /run/vipd-test/vipd.yaml, written with this config. */
export function startVipd(config: string): Vipd {
  writeFileSync(`${RUN}/vipd.yaml`, config);
  return runVipd(`${RUN}/vipd.yaml`);
}

export const vipdStatus = (socket = `${RUN}/vipd.sock`): DaemonStatus => JSON.parse(sh(`${process.execPath} ${VIPD} status --json -s ${socket}`)) as DaemonStatus;
export const vipdStatusText = (socket = `${RUN}/vipd.sock`): string => sh(`${process.execPath} ${VIPD} status -s ${socket}`);

/** The JSON log lines of one event. */
export const events = (v: Vipd, event: string): Record<string, unknown>[] =>
  v
    .log()
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
