// TCP connect check, optionally sending bytes and expecting some in the answer.

import net from 'node:net';
import { native, type ProbeHandle } from '../net/native.js';
import { type CheckResult, type CheckSpec, deadline } from './types.js';

const failed = (code: string): string => `TCP ${code}${code === 'ECONNREFUSED' ? ' (connection refused)' : ''}`;

export function checkTcp(s: CheckSpec): Promise<CheckResult> {
  return s.send === undefined && s.expect === undefined ? probeTcpNative(s) : talkTcp(s);
}

/**
 * Connect only (the common case, 10,000 a second): the addon's non-blocking
 * connect and close, no stream object — keepalived's TCP_CHECK.
 */
export function probeTcpNative(s: CheckSpec): Promise<CheckResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let handle: ProbeHandle | undefined;
    const done = (ok: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!ok && handle) native().tcpProbeCancel(handle);
      resolve({ ok, reason, ms: performance.now() - t0 });
    };
    const timer = deadline(() => done(false, `TCP connect timed out after ${s.timeoutMs} ms`), s.timeoutMs);
    const r = native().tcpProbe(s.address, s.port, (code) => done(code === '', code === '' ? 'TCP connect ok' : failed(code)));
    if (typeof r === 'string') done(false, failed(r));
    else handle = r;
  });
}

/** Connect, send, expect: a socket. */
export function talkTcp(s: CheckSpec): Promise<CheckResult> {
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
    const timer = deadline(() => done(false, sock.connecting ? `TCP connect timed out after ${s.timeoutMs} ms` : `no expected answer within ${s.timeoutMs} ms (got ${JSON.stringify(answer.slice(0, 80))})`), s.timeoutMs);
    sock.once('connect', () => {
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
    sock.once('error', (err: NodeJS.ErrnoException) => done(false, failed(err.code ?? err.message)));
  });
}
