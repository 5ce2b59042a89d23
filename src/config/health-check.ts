// `health_check:` of a virtual server: Octavia's health monitor keys, with
// keepalived's checker names accepted for the type (TCP_CHECK, HTTP_GET, ...).

import type { Node } from 'yaml';
import { parseExpectedCodes } from '../health/types.js';
import { bool, didYouMean, type Fields, num, oneOf, scalarValue, str } from './reader.js';
import type { HealthCheckConfig } from './types.js';

/** health_check: Octavia's health monitor keys (keepalived's names accepted where they differ). */
export function healthCheck(f: Fields, node: Node, path: string, servicePort: number): HealthCheckConfig | undefined {
  const m = f.map(node, path, 'a map {type, delay, timeout, max_retries, max_retries_down, ...}');
  if (!m) return undefined;
  m.allowOnly([
    'type', 'delay', 'timeout', 'max_retries', 'max_retries_down', 'port', 'send', 'expect', 'http_method', 'url_path',
    'domain_name', 'expected_codes', 'body_regex', 'sni', 'ca_file', 'verify', 'script',
  ]);
  const TYPES: Record<string, HealthCheckConfig['type']> = { TCP: 'tcp', HTTP: 'http', HTTPS: 'https', PING: 'ping', SCRIPT: 'script', TCP_CHECK: 'tcp', HTTP_GET: 'http', SSL_GET: 'https', PING_CHECK: 'ping', MISC_CHECK: 'script' };
  if (!m.has('type')) f.r.issue(m.node, m.sub('type'), 'missing "type"; valid: TCP | HTTP | HTTPS | PING | SCRIPT');
  const typeName = f.get(m, 'type', str('a check type', (v) => (TYPES[v.toUpperCase()] ? undefined : `"${v}" is not a check type${didYouMean(v.toUpperCase(), Object.keys(TYPES)) ? `; did you mean "${didYouMean(v.toUpperCase(), Object.keys(TYPES))}"?` : ''}`)));
  const type = typeName ? TYPES[typeName.toUpperCase()]! : 'tcp';
  const delay = f.get(m, 'delay', num(0.01, 86400, { unit: 'seconds between checks (Octavia delay, keepalived delay_loop)' })) ?? 5;
  const timeout = f.get(m, 'timeout', num(0.01, 86400, { unit: 'seconds' })) ?? Math.min(3, delay / 2);
  if (timeout >= delay) f.r.issue(m.value('timeout') ?? m.value('delay') ?? m.node, m.sub(m.has('timeout') ? 'timeout' : 'delay'), `timeout ${timeout} s is not less than delay ${delay} s; valid: a timeout below the delay (a check must end before the next one starts)`);
  const rise = f.get(m, 'max_retries', num(1, 100, { integer: true, unit: 'passes to come back up' })) ?? 3;
  const fall = f.get(m, 'max_retries_down', num(1, 100, { integer: true, unit: 'failures to go down' })) ?? 3;
  const text = str('a string');
  const hc: HealthCheckConfig = {
    type,
    intervalMs: Math.round(delay * 1000),
    timeoutMs: Math.round(timeout * 1000),
    rise,
    fall,
    method: 'GET',
    path: '/',
    expectedCodes: '200',
    verify: false,
  };
  const portNum = f.get(m, 'port', num(1, 65535, { integer: true }));
  if (portNum !== undefined) hc.port = portNum;
  if ((type === 'tcp' || type === 'http' || type === 'https') && portNum === undefined && servicePort === 0)
    f.r.issue(m.node, m.sub('port'), 'this service has no port (fwmark or port 0): say which port to check; valid: port: 1..65535');
  const only = (keys: string[], types: HealthCheckConfig['type'][]) => {
    for (const k of keys) if (m.has(k) && !types.includes(type)) f.r.issue(m.keyNode(k)!, m.sub(k), `${k} applies to ${types.map((t) => t.toUpperCase()).join('/')} checks, not ${type.toUpperCase()}; remove it`);
  };
  only(['send', 'expect'], ['tcp']);
  only(['http_method', 'url_path', 'domain_name', 'expected_codes', 'body_regex'], ['http', 'https']);
  only(['sni', 'ca_file', 'verify'], ['https']);
  only(['script'], ['script']);
  const send = f.get(m, 'send', text);
  if (send !== undefined) hc.send = send;
  const expect = f.get(m, 'expect', text);
  if (expect !== undefined) hc.expect = expect;
  hc.method = f.get(m, 'http_method', oneOf(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'] as const)) ?? 'GET';
  hc.path = f.get(m, 'url_path', str('a path starting with /', (v) => (v.startsWith('/') ? undefined : `"${v}" does not start with /`))) ?? '/';
  const host = f.get(m, 'domain_name', str('a host name for the Host header'));
  if (host !== undefined) hc.host = host;
  const codesRaw = m.has('expected_codes') ? scalarValue(m.value('expected_codes')) : undefined;
  if (codesRaw !== undefined) {
    const codes = String(codesRaw);
    const parsed = parseExpectedCodes(codes);
    if (typeof parsed === 'string') f.r.issue(m.value('expected_codes') ?? m.node, m.sub('expected_codes'), `${parsed}; valid: "200", "200, 202", "200-204"`);
    else hc.expectedCodes = codes;
  }
  const re = f.get(m, 'body_regex', str('a regular expression', (v) => {
    try {
      new RegExp(v);
      return undefined;
    } catch (err) {
      return `not a valid regular expression: ${(err as Error).message}`;
    }
  }));
  if (re !== undefined) hc.bodyRegex = re;
  const sni = f.get(m, 'sni', text);
  if (sni !== undefined) hc.sni = sni;
  const ca = f.get(m, 'ca_file', str('an absolute path to a PEM file', (v) => (v.startsWith('/') ? undefined : `"${v}" must be an absolute path`)));
  if (ca !== undefined) hc.caFile = ca;
  hc.verify = f.get(m, 'verify', bool) ?? ca !== undefined;
  if (type === 'script') {
    if (!m.has('script')) f.r.issue(m.node, m.sub('script'), 'missing "script"; valid: script: /etc/vipd/check.sh (gets the address and port as {address} {port} or at the end)');
    const sv = scalarValue(m.value('script'));
    const argv = Array.isArray(sv) ? (f.list(m, 'script') ?? []).map((n) => String(scalarValue(n))) : typeof sv === 'string' ? sv.trim().split(/\s+/) : [];
    if (m.has('script') && (!argv[0] || !argv[0].startsWith('/'))) f.r.issue(m.value('script') ?? m.node, m.sub('script'), `"${argv[0] ?? ''}" must be an absolute path; valid: script: /etc/vipd/check.sh`);
    else if (argv[0]) f.r.script(m.value('script'), m.sub('script'), argv[0]);
    if (argv[0]?.startsWith('/')) hc.command = argv.some((a) => a.includes('{address}') || a.includes('{port}')) ? argv : [...argv, '{address}', '{port}'];
  }
  return hc;
}
