// TCP connect check, optionally sending bytes and expecting some in the answer.

import type net from 'node:net';
import { native } from '../net/native.js';
import { connectTcp, socketOptions } from './connect.js';
import { type CheckResult, type CheckSpec, settleCheck } from './types.js';

/** A TCP check's failure in words: "TCP ECONNREFUSED (connection refused)". */
export const tcpFailed = (code: string): string => `TCP ${code}${code === 'ECONNREFUSED' ? ' (connection refused)' : ''}`;
export const TCP_CONNECT_OK = 'TCP connect ok';
export const tcpTimedOut = (ms: number): string => `TCP connect timed out after ${ms} ms`;

/** A TCP check that only connects (keepalived's TCP_CHECK without send/expect). */
export const connectOnly = (s: CheckSpec): boolean => s.type === 'tcp' && s.send === undefined && s.expect === undefined;

export function checkTcp(s: CheckSpec): Promise<CheckResult> {
  return connectOnly(s) ? probeTcpNative(s) : talkTcp(s);
}

/**
 * Connect only (the common case, 10,000 a second): the addon's non-blocking
 * connect and close, no stream object — keepalived's TCP_CHECK, with its
 * connection options (bindto, bind_port, bind_if, fwmark).
 */
export function probeTcpNative(s: CheckSpec): Promise<CheckResult> {
  return settleCheck(
    s.timeoutMs,
    () => tcpTimedOut(s.timeoutMs),
    (done) => {
      const r = native().tcpProbe(s.address, s.port, (code) => done(code === '', code === '' ? TCP_CONNECT_OK : tcpFailed(code)), socketOptions(s));
      if (typeof r === 'string') {
        done(false, tcpFailed(r));
        return () => {};
      }
      return () => native().tcpProbeCancel(r); // a no-op once the probe has answered
    },
  );
}

/** Connect, send, expect: a socket. */
export function talkTcp(s: CheckSpec): Promise<CheckResult> {
  let connected = false;
  let answer = '';
  return settleCheck(
    s.timeoutMs,
    () => (!connected ? tcpTimedOut(s.timeoutMs) : `no expected answer within ${s.timeoutMs} ms (got ${JSON.stringify(answer.slice(0, 80))})`),
    (done) =>
      connectTcp(
        s,
        (c: net.Socket) => {
          connected = true;
          c.setEncoding('latin1');
          c.on('data', (d: string) => {
            answer += d;
            if (s.expect !== undefined && answer.includes(s.expect)) done(true, `TCP answer contains ${JSON.stringify(s.expect)}`);
            else if (answer.length > 65536) done(false, `TCP answer lacks ${JSON.stringify(s.expect)} in its first 64 KiB`);
          });
          c.once('end', () => done(false, `connection closed before ${JSON.stringify(s.expect)} (got ${JSON.stringify(answer.slice(0, 80))})`));
          c.once('error', (err: NodeJS.ErrnoException) => done(false, tcpFailed(err.code ?? err.message)));
          if (s.send !== undefined) c.write(s.send);
          if (s.expect === undefined) done(true, s.send === undefined ? TCP_CONNECT_OK : 'TCP connect and send ok');
        },
        (code) => done(false, tcpFailed(code)),
      ),
  );
}
