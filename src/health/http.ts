// HTTP and HTTPS checks: method, path, Host, expected codes (Octavia's
// "200", "200, 202", "200-204"), optional body regex, TLS with SNI and an
// optional CA (or no verification, as Octavia's and keepalived's checks do by
// default). Every way a server can misbehave ends in a failure with a reason
// within the timeout: no answer, an answer that never ends, garbage, a reset,
// a wrong code, a TLS failure. keepalived's HTTP_GET/SSL_GET: several URLs,
// each with its codes, an MD5 digest of the body and a Host; a client certificate.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { type CheckResult, type CheckSpec, parseExpectedCodes, settleCheck } from './types.js';

const BODY_LIMIT = 1 << 20;

/** Every URL in turn (keepalived's url blocks), each within the timeout; the first failure is the check's. */
export async function checkHttp(s: CheckSpec): Promise<CheckResult> {
  if (!s.urls) return checkUrl(s);
  let ms = 0;
  let last: CheckResult | undefined;
  for (const u of s.urls) {
    const r = await checkUrl({ ...s, path: u.path, expectedCodes: u.expectedCodes, ...(u.host !== undefined ? { host: u.host } : {}) }, u.digest);
    ms += r.ms;
    if (!r.ok) return { ...r, reason: s.urls.length > 1 ? `${u.path}: ${r.reason}` : r.reason, ms };
    last = r;
  }
  return { ok: true, reason: s.urls.length === 1 ? last!.reason : `${s.urls.length} URLs: ${last!.reason}`, ms };
}

function checkUrl(s: CheckSpec, digest?: string): Promise<CheckResult> {
  const expected = parseExpectedCodes(s.expectedCodes ?? '200');
  const accept = typeof expected === 'string' ? () => false : expected;
  const bodyRe = s.bodyRegex !== undefined ? new RegExp(s.bodyRegex) : undefined;
  const tls = s.type === 'https';
  const host = s.host ?? (s.address.includes(':') ? `[${s.address}]` : s.address);
  return settleCheck(
    s.timeoutMs,
    () => `no complete HTTP answer within ${s.timeoutMs} ms`,
    (done) => {
      const options: https.RequestOptions = {
        host: s.address,
        port: s.port,
        method: s.method ?? 'GET',
        path: s.path ?? '/',
        headers: { Host: s.port === (tls ? 443 : 80) ? host : `${host}:${s.port}`, 'User-Agent': 'vipd-health-check', Connection: 'close' },
        agent: false,
        ...(s.bindto ? { localAddress: s.bindto } : {}),
      };
      if (tls) {
        const sni = s.sni ?? s.host;
        if (sni && !/^[\d.]+$|:/.test(sni)) options.servername = sni;
        options.rejectUnauthorized = s.verify ?? false;
        if (s.caFile) options.ca = readFileSync(s.caFile);
        if (s.certFile && s.keyFile) {
          options.cert = readFileSync(s.certFile);
          options.key = readFileSync(s.keyFile);
        }
      }
      const req = (tls ? https : http).request(options, (res) => {
        const code = res.statusCode ?? 0;
        const codeOk = accept(code);
        if (!codeOk && !bodyRe) return done(false, `HTTP ${code} (expected ${s.expectedCodes ?? '200'})`);
        let body = '';
        const md5 = digest ? createHash('md5') : undefined;
        res.on('data', (d: Buffer) => {
          md5?.update(d);
          if (bodyRe && body.length < BODY_LIMIT) body += d.toString('utf8');
        });
        res.once('end', () => {
          if (!codeOk) return done(false, `HTTP ${code} (expected ${s.expectedCodes ?? '200'})`);
          if (bodyRe && !bodyRe.test(body)) return done(false, `HTTP ${code} but the body does not match /${s.bodyRegex}/`);
          const sum = md5?.digest('hex');
          if (sum !== undefined && sum !== digest) return done(false, `HTTP ${code} but the body's MD5 is ${sum} (expected ${digest})`);
          done(true, `HTTP ${code}${sum ? `, digest ok` : ''}`);
        });
        res.once('error', (err: NodeJS.ErrnoException) => done(false, `HTTP ${code}, then ${describe(err)} while reading the body`));
      });
      req.once('error', (err: NodeJS.ErrnoException) => done(false, describe(err)));
      req.end();
      return () => req.destroy();
    },
  );
}

function describe(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return 'TCP ECONNREFUSED (connection refused)';
  if (code === 'ECONNRESET') return 'connection reset by the server';
  if (code.startsWith('HPE_')) return `not HTTP: ${err.message.replace(/^Parse Error: /, '')}`;
  if (code === 'EPROTO' || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME/.test(code)) return `TLS: ${err.message} (${code})`;
  return `${code || 'error'}: ${err.message}`;
}
