// Scripts run by the checker: a SCRIPT health check (keepalived's MISC_CHECK: exit 0
// up, anything else down; with misc_dynamic 1 is down and 2..255 up with weight =
// code - 2) and a
// vrrp_script (exit 0 OK, anything else a failure: keepalived's vrrp_script).
// A script that outlives its timeout is killed with its process group and counts
// as a failure; a script is done when it exits (a background child it leaves does
// not hold the check).

import { spawn } from 'node:child_process';
import { afterOutput, killGroup } from '../process-group.js';
import type { CheckResult, CheckSpec } from './types.js';

type Outcome = { code: number; tail: string } | { failed: string };

/** Runs argv without a shell in its own process group; at `timeoutMs` the group is killed. */
function runScript(argv: string[], s: CheckSpec, env: NodeJS.ProcessEnv): Promise<Outcome & { ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let output = '';
    const done = (r: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env,
      ...(s.uid !== undefined ? { uid: s.uid } : {}),
      ...(s.gid !== undefined ? { gid: s.gid } : {}),
    });
    const keep = (d: Buffer) => {
      if (output.length < 512) output += d.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      killGroup(child.pid);
      done({ failed: `script ${argv[0]} did not finish within ${s.timeoutMs} ms (killed)` });
    }, s.timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => done({ failed: `script ${argv[0]}: ${err.code ?? err.message}` }));
    // 'exit', not 'close': a background child the script leaves must not hold the check until its timeout.
    child.once('exit', (code, signal) => afterOutput(child, () => {
      const said = output.trim().split('\n').at(-1)?.slice(0, 200);
      const tail = said ? `: ${said}` : '';
      done(signal ? { failed: `script ${argv[0]} killed by ${signal}${tail}` } : { code: code!, tail });
    }));
  });
}

export async function checkScript(s: CheckSpec): Promise<CheckResult> {
  const argv = (s.command ?? []).map((a) => a.replaceAll('{address}', s.address).replaceAll('{port}', String(s.port)));
  const r = await runScript(argv, s, { ...process.env, VIPD_RS_ADDRESS: s.address, VIPD_RS_PORT: String(s.port) });
  if ('failed' in r) return { ok: false, reason: r.failed, ms: r.ms };
  if (r.code === 0) return { ok: true, reason: `script exit 0${r.tail}`, ms: r.ms };
  if (r.code === 1 || !s.miscDynamic) return { ok: false, reason: `script exit ${r.code}${r.tail}`, ms: r.ms };
  return { ok: true, weight: r.code - 2, reason: `script exit ${r.code}: weight ${r.code - 2}${r.tail}`, ms: r.ms };
}

/** keepalived's vrrp_script: exit status 0 is OK, anything else (or a timeout) a failure. */
export async function checkVrrpScript(s: CheckSpec): Promise<CheckResult> {
  const r = await runScript(s.command ?? [], s, process.env);
  if ('failed' in r) return { ok: false, reason: r.failed, ms: r.ms };
  return { ok: r.code === 0, reason: `exit ${r.code}${r.tail}`, ms: r.ms };
}
