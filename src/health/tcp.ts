// TCP connect check, optionally sending bytes and expecting some in the answer.

import net from 'node:net';
import type { CheckResult, CheckSpec } from './types.js';

export function checkTcp(s: CheckSpec): Promise<CheckResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const sock = net.connect({ host: s.address, port: s.port });
    let answer = '';
    let settled = false;
    const done = (ok: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, reason, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => done(false, sock.connecting ? `TCP connect timed out after ${s.timeoutMs} ms` : `no expected answer within ${s.timeoutMs} ms (got ${JSON.stringify(answer.slice(0, 80))})`), s.timeoutMs);
    sock.once('connect', () => {
      if (s.send === undefined && s.expect === undefined) return done(true, 'TCP connect ok');
      if (s.send !== undefined) sock.write(s.send);
      if (s.expect === undefined) return done(true, 'TCP connect and send ok');
    });
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      answer += d;
      if (s.expect !== undefined && answer.includes(s.expect)) done(true, `TCP answer contains ${JSON.stringify(s.expect)}`);
      else if (answer.length > 65536) done(false, `TCP answer lacks ${JSON.stringify(s.expect)} in its first 64 KiB`);
    });
    sock.once('end', () => done(false, `connection closed before ${JSON.stringify(s.expect)} (got ${JSON.stringify(answer.slice(0, 80))})`));
    sock.once('error', (err: NodeJS.ErrnoException) => done(false, `TCP ${err.code ?? err.message}${err.code === 'ECONNREFUSED' ? ' (connection refused)' : ''}`));
  });
}
