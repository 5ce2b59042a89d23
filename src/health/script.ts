// Script check: exit 0 up, 1 down, 2..255 up with weight = code - 2
// (keepalived's MISC_CHECK with misc_dynamic). A script that outlives its
// timeout is killed with its process group and counts as a failure; a script
// is done when it exits (a background child it leaves does not hold the check).

import { spawn } from 'node:child_process';
import { afterOutput, killGroup } from '../process-group.js';
import type { CheckResult, CheckSpec } from './types.js';

export function checkScript(s: CheckSpec): Promise<CheckResult> {
  const t0 = performance.now();
  const argv = (s.command ?? []).map((a) => a.replaceAll('{address}', s.address).replaceAll('{port}', String(s.port)));
  return new Promise((resolve) => {
    let settled = false;
    let output = '';
    const done = (r: Omit<CheckResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, VIPD_RS_ADDRESS: s.address, VIPD_RS_PORT: String(s.port) },
    });
    const keep = (d: Buffer) => {
      if (output.length < 512) output += d.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      killGroup(child.pid);
      done({ ok: false, reason: `script ${argv[0]} did not finish within ${s.timeoutMs} ms (killed)` });
    }, s.timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: `script ${argv[0]}: ${err.code ?? err.message}` }));
    // 'exit', not 'close': a background child the script leaves must not hold the check until its timeout.
    child.once('exit', (code, signal) => afterOutput(child, () => {
      const said = output.trim().split('\n').at(-1)?.slice(0, 200);
      const tail = said ? `: ${said}` : '';
      if (signal) return done({ ok: false, reason: `script ${argv[0]} killed by ${signal}${tail}` });
      if (code === 0) return done({ ok: true, reason: `script exit 0${tail}` });
      if (code === 1) return done({ ok: false, reason: `script exit 1${tail}` });
      done({ ok: true, weight: code! - 2, reason: `script exit ${code}: weight ${code! - 2}${tail}` });
    }));
  });
}
