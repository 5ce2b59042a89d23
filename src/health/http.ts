// HTTP and HTTPS checks: method, path, Host, expected codes (Octavia's
// "200", "200, 202", "200-204"), optional body regex, TLS with SNI and an
// optional CA (or no verification, as Octavia's and keepalived's checks do by
// default). Every way a server can misbehave ends in a failure with a reason
// within the timeout: no answer, an answer that never ends, garbage, a reset,
// a wrong code, a TLS failure, a body over 1 MiB. keepalived's HTTP_GET/SSL_GET:
// several URLs, each with its codes, an MD5 digest of the body and a Host; a
// client certificate; http_protocol. Plain HTTP goes through the addon's
// connection (no stream object), HTTPS through a TLS socket; either way the
// answer is read by the small parser of http-wire.ts — no http.ClientRequest,
// agent or IncomingMessage.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { type CheckSocketOptions, native } from '../net/native.js';
import { connectTcp, socketOptionsIfAny } from './connect.js';
import { httpRequest, ResponseParser } from './http-wire.js';
import { type CheckResult, type CheckSpec, type HealthCheckUrl, parseExpectedCodes, settleCheck } from './types.js';

/** Every URL in turn (keepalived's url blocks), each within the timeout; the first failure is the check's. */
export async function checkHttp(s: CheckSpec): Promise<CheckResult> {
  if (!s.urls) return checkUrl(s, prepared(s, 0));
  let ms = 0;
  let last: CheckResult | undefined;
  for (let i = 0; i < s.urls.length; i++) {
    const u = s.urls[i]!;
    const r = await checkUrl(s, prepared(s, i));
    ms += r.ms;
    if (!r.ok) return { ...r, reason: s.urls.length > 1 ? `${u.path}: ${r.reason}` : r.reason, ms };
    last = r;
  }
  return { ok: true, reason: s.urls.length === 1 ? last!.reason : `${s.urls.length} URLs: ${last!.reason}`, ms };
}

/** What a URL's runs share: its request's bytes, its codes, its body regex and digest. */
interface Prepared {
  request: Buffer;
  method: string;
  codes: string;
  accept: (code: number) => boolean;
  bodyRe: RegExp | undefined;
  digest: string | undefined;
  /** The socket's options (connect.ts), undefined when none. */
  sockOpts: CheckSocketOptions | undefined;
}

/**
 * Made once per check and URL, not per run (2,000 HTTP checks a second): a check's
 * spec is never changed (a reload makes new ones; the old entries go with them).
 */
const preparedOf = new WeakMap<CheckSpec, Prepared[]>();
function prepared(s: CheckSpec, i: number): Prepared {
  let list = preparedOf.get(s);
  if (!list) preparedOf.set(s, (list = []));
  return (list[i] ??= prepare(s, s.urls?.[i]));
}

function prepare(s: CheckSpec, u: HealthCheckUrl | undefined): Prepared {
  const codes = u?.expectedCodes ?? s.expectedCodes ?? '200';
  const expected = parseExpectedCodes(codes);
  const method = s.method ?? 'GET';
  const host = u?.host ?? s.host ?? (s.address.includes(':') ? `[${s.address}]` : s.address);
  const text = httpRequest({ method, path: u?.path ?? s.path ?? '/', host, port: s.port, tls: s.type === 'https', ...(s.httpProtocol ? { protocol: s.httpProtocol } : {}) });
  return {
    request: Buffer.from(text, 'latin1'),
    method,
    codes,
    accept: typeof expected === 'string' ? () => false : expected,
    bodyRe: s.bodyRegex !== undefined ? new RegExp(s.bodyRegex) : undefined,
    digest: u?.digest,
    sockOpts: socketOptionsIfAny(s),
  };
}

/** How the answer arrives: each piece, its end, an error (already in words). */
interface Receiver {
  data(b: Buffer): void;
  end(): void;
  error(reason: string): void;
}

/**
 * Plain HTTP: the addon's connection (tcp_exchange.cc) — a non-blocking connect,
 * the request written, the answer read on the event loop, no stream object. Returns the release.
 */
function exchangeTcp(s: CheckSpec, request: Buffer, r: Receiver, sockOpts: CheckSocketOptions | undefined): () => void {
  const h = native().tcpExchange(
    s.address,
    s.port,
    request,
    (code, chunk) => {
      if (code) r.error(failed(code));
      else if (chunk) r.data(chunk);
      else r.end();
    },
    sockOpts,
  );
  if (typeof h === 'string') {
    r.error(failed(h));
    return () => {};
  }
  return () => native().tcpExchangeCancel(h);
}

/** HTTPS: TLS with SNI, the CA or no verification, and a client certificate, over the check's TCP connection (connect.ts: its options). */
function exchangeTls(s: CheckSpec, request: Buffer, r: Receiver): () => void {
  const sni = s.sni ?? s.host;
  let c: tls.TLSSocket | undefined;
  const release = connectTcp(
    s,
    (socket) => {
      socket.on('error', () => {}); // reported by the TLS socket on top (or by the timeout)
      c = tls.connect({
        socket,
        ...(sni && !/^[\d.]+$|:/.test(sni) ? { servername: sni } : {}),
        rejectUnauthorized: s.verify ?? false,
        ...(s.caFile ? { ca: readFileSync(s.caFile) } : {}),
        ...(s.certFile && s.keyFile ? { cert: readFileSync(s.certFile), key: readFileSync(s.keyFile) } : {}),
      });
      c.write(request);
      c.on('data', (b: Buffer) => r.data(b));
      c.once('end', () => r.end());
      c.once('error', (err: NodeJS.ErrnoException) => r.error(describe(err)));
    },
    (code) => r.error(failed(code)),
  );
  return () => {
    c?.destroy();
    release();
  };
}

/**
 * One request on its own connection (Connection: close), the answer parsed as it
 * arrives (http-wire.ts): a wrong code fails at the status line; otherwise the
 * whole body is read (an answer that never ends fails at the timeout), hashed
 * for a digest and kept for a body regex.
 */
function checkUrl(s: CheckSpec, p: Prepared): Promise<CheckResult> {
  const { request, method, codes, accept, bodyRe, digest, sockOpts } = p;
  return settleCheck(
    s.timeoutMs,
    () => `no complete HTTP answer within ${s.timeoutMs} ms`,
    (done) => {
      let code = 0;
      const md5 = digest ? createHash('md5') : undefined;
      const parts: Buffer[] | undefined = bodyRe ? [] : undefined;
      const parser = new ResponseParser(
        {
          head: (c) => {
            code = c;
            if (accept(c)) return true;
            done(false, `HTTP ${c} (expected ${codes})`);
            return false;
          },
          body: (chunk) => {
            md5?.update(chunk);
            parts?.push(chunk);
          },
        },
        method === 'HEAD',
      );
      const judge = (r: string | undefined): void => {
        if (r === undefined) return;
        if (r !== '') return done(false, r);
        if (parts && !bodyRe!.test(Buffer.concat(parts).toString('utf8'))) return done(false, `HTTP ${code} but the body does not match /${s.bodyRegex}/`);
        const sum = md5?.digest('hex');
        if (sum !== undefined && sum !== digest) return done(false, `HTTP ${code} but the body's MD5 is ${sum} (expected ${digest})`);
        done(true, `HTTP ${code}${sum ? ', digest ok' : ''}`);
      };
      const receiver: Receiver = {
        data: (b) => judge(parser.push(b)),
        end: () => judge(parser.end()),
        error: (why) => done(false, code ? `HTTP ${code}, then ${why} while reading the body` : why),
      };
      return s.type === 'https' ? exchangeTls(s, request, receiver) : exchangeTcp(s, request, receiver, sockOpts);
    },
  );
}

/** An errno name in words: refused, reset, else the name (EHOSTUNREACH, ...). */
function failed(code: string): string {
  if (code === 'ECONNREFUSED') return 'TCP ECONNREFUSED (connection refused)';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset by the server';
  return `TCP ${code}`;
}

function describe(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE') return failed(code);
  if (code === 'EPROTO' || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME/.test(code)) return `TLS: ${err.message} (${code})`;
  return `${code || 'error'}: ${err.message}`;
}
