// The harness of the scripts that run inside the QEMU guest (Debian kernel, real
// IPVS), chrooted into the host filesystem with the share as working directory:
// scenarios grouped by the topology they build, each run under a time limit,
// the processes it started killed when it ends (pass or fail), and the results
// written to results.json on the share after every scenario:
// [{ name, ok, ms, details?, error? }].
// Titles are data: test/vm/ipvs.test.ts imports the same lists to declare its tests.
// Compiled by tsconfig.guest.json into dist-test/ (the test's global setup and the
// benchmarks build it), and type-checked with the rest by `npm run typecheck`.

import { type ChildProcess, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: this file is test/vm/guest/harness.ts, compiled to dist-test/test/vm/guest/harness.js. */
function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, here.includes('/dist-test/') ? '../../../..' : '../../..');
}
export const ROOT = projectRoot();
/** The vipd launcher (runs dist/, the build of src/ the tests run against). */
export const VIPD = join(ROOT, 'bin/vipd.js');
/**
 * bin/vipd.js's first line (`#!/usr/bin/env -S NAME=VALUE... node FLAGS...`): the
 * environment and the node flags it runs with — the daemon under test runs as installed.
 */
function shebang(): { env: Record<string, string>; flags: string[] } {
  const words = readFileSync(VIPD, 'utf8').split('\n')[0]!.replace(/^#!\S*env -S\s+/, '').trim().split(/\s+/);
  const node = words.indexOf('node');
  return { env: Object.fromEntries(words.slice(0, node).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)])), flags: words.slice(node + 1) };
}
const launch = shebang();
export const VIPD_NODE_FLAGS = launch.flags;
export const VIPD_NODE_ENV = launch.env;
/** `env NAME=VALUE... node FLAGS...`: what starts bin/vipd.js as its first line does, for a spawn that takes a command line. */
export const VIPD_NODE_COMMAND = ['env', ...Object.entries(launch.env).map(([k, v]) => `${k}=${v}`), process.execPath, ...launch.flags];

export interface Scenario {
  title: string;
  run: () => Promise<unknown>;
  /** Time limit in ms (default 180,000). */
  limitMs?: number;
}

/** Scenarios that build one topology, in the order they run (later ones may use what earlier ones left). */
export interface Topology {
  name: string;
  scenarios: Scenario[];
  /** After its scenarios (those that ran): releases what they shared. */
  teardown?: () => void;
}

export interface ScenarioResult {
  name: string;
  ok: boolean;
  ms: number;
  details?: unknown;
  error?: string;
}

/** An Error that carries details for the report. */
export class Failure extends Error {
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const titles = (topologies: readonly Topology[]): string[] => topologies.flatMap((t) => t.scenarios.map((s) => s.title));

export const sh = (cmd: string, input?: string): string =>
  execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
export const inNs = (ns: string, cmd: string): string => sh(`ip netns exec ${ns} ${cmd}`);
/** The kernel's table as ipvsadm saves it, sorted. */
export const saved = (): string[] => sh('ipvsadm -Sn').split('\n').filter(Boolean).sort();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function assertEq(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual, null, 1);
  const e = JSON.stringify(expected, null, 1);
  if (a !== e) throw new Failure(`${what}: differs`, { expected, actual });
}

/** Polls fn every 200 ms until it returns true; anything else it returns (or throws) is the last word if time runs out. */
export async function until(what: string, fn: () => unknown, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      last = fn();
      if (last === true) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(200);
  }
  throw new Failure(`timed out waiting for ${what}`, last);
}

const children = new Set<ChildProcess>();
/** A process the running scenario started: killed when the scenario ends. */
export function track<C extends ChildProcess>(child: C): C {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs one scenario under its time limit; the processes it started are killed when it ends. */
async function runScenario({ title, run, limitMs = 180_000 }: Scenario): Promise<ScenarioResult> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`scenario took longer than ${limitMs} ms`)), limitMs)));
    const details = await Promise.race([run(), limit]);
    return { name: title, ok: true, ms: Date.now() - t0, details };
  } catch (err) {
    const e = err as { stack?: string; details?: unknown };
    return { name: title, ok: false, ms: Date.now() - t0, error: String(e?.stack ?? err), details: e?.details };
  } finally {
    clearTimeout(timer);
    for (const c of children) c.kill('SIGKILL');
    children.clear();
  }
}

/**
 * Runs the topologies' scenarios in order, writing results.json after each (a guest
 * that dies later still reports the ones before).
 * VIPD_ONLY=regex runs only the matching scenarios (while developing one; the test run runs all).
 */
export async function runTopologies(topologies: readonly Topology[], only = process.env.VIPD_ONLY ? new RegExp(process.env.VIPD_ONLY) : undefined): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const topology of topologies) {
    for (const scenario of topology.scenarios) {
      if (only && !only.test(scenario.title)) continue;
      results.push(await runScenario(scenario));
      writeFileSync('results.json', JSON.stringify(results, null, 1));
    }
    topology.teardown?.();
  }
  writeFileSync('results.json', JSON.stringify(results, null, 1));
  return results;
}
