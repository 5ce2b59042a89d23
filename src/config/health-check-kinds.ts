// The keys of each kind of health check (health-check.ts reads the keys all
// checks share): TCP send/expect; HTTP/HTTPS with Octavia's url_path and
// expected_codes or keepalived's url blocks (`urls`, each with status_code and
// digest); HTTPS certificates; SCRIPT (misc_dynamic); UDP (payload,
// require_reply); DNS (query type and name); SMTP (helo_name); FILE (track_file).

import { isIPv4, isIPv6 } from 'node:net';
import { isScalar, type Node } from 'yaml';
import { HTTP_PROTOCOLS } from '../health/http-wire.js';
import { parseHex } from '../health/udp.js';
import { parseExpectedCodes } from '../health/types.js';
import { type Fields, type MapView, bool, num, oneOf, scalarValue, str } from './reader.js';
import type { HealthCheckConfig, HealthCheckUrl } from './types.js';

type Type = HealthCheckConfig['type'];
const HTTP = ['http_method', 'url_path', 'domain_name', 'virtualhost', 'expected_codes', 'body_regex', 'urls', 'http_protocol'];
const KEYS: Record<Type, string[]> = {
  tcp: ['send', 'expect'],
  http: HTTP,
  https: [...HTTP, 'sni', 'ca_file', 'verify', 'cert_file', 'key_file'],
  ping: [],
  script: ['script', 'misc_dynamic'],
  udp: ['payload', 'require_reply', 'min_reply_length', 'max_reply_length'],
  dns: ['dns_type', 'dns_name', 'dns_answer'],
  smtp: ['helo_name'],
  file: ['track_file', 'weight', 'reverse'],
};
export const DNS_TYPES = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'] as const;

/** The keys a check of this type has besides the common ones. */
export function kindKeys(type: Type): string[] {
  return KEYS[type];
}

const text = str('a string');
const absPath = (what: string) => str(`an absolute path to ${what}`, (v) => (v.startsWith('/') ? undefined : `"${v}" must be an absolute path`));
/** Octavia's "200, 202" / "200-204" or keepalived's "200-299 400-499 503": the same codes. */
const codes = (f: Fields, node: Node | null | undefined, path: string): string | undefined => {
  const raw = scalarValue(node);
  if (raw === undefined || raw === null) return undefined;
  const list = String(raw).trim().split(/\s*,\s*|\s+/).join(', ');
  const parsed = parseExpectedCodes(list);
  if (typeof parsed === 'string') {
    f.r.issue(node ?? undefined, path, `${parsed}; valid: "200", "200, 202", "200-204" (or keepalived's "200-299 503")`);
    return undefined;
  }
  return list;
};

export function readKind(f: Fields, m: MapView, hc: HealthCheckConfig): void {
  switch (hc.type) {
    case 'tcp': {
      const send = f.get(m, 'send', text);
      if (send !== undefined) hc.send = send;
      const expect = f.get(m, 'expect', text);
      if (expect !== undefined) hc.expect = expect;
      return;
    }
    case 'http':
    case 'https':
      return http(f, m, hc);
    case 'script':
      return script(f, m, hc);
    case 'udp':
      return udp(f, m, hc);
    case 'dns': {
      hc.dnsType = f.get(m, 'dns_type', oneOf(DNS_TYPES)) ?? 'SOA';
      hc.dnsName = f.get(m, 'dns_name', str('a domain name, e.g. example.com', (v) => (/^(\.|([A-Za-z0-9_*-]{1,63}\.?)+)$/.test(v) && v.length <= 253 ? undefined : `"${v}" is not a domain name`))) ?? '.';
      const answer = f.get(m, 'dns_answer', str('an IPv4 or IPv6 address the answer must hold', (v) => (isIPv4(v) || isIPv6(v) ? undefined : `"${v}" is not an IP address`)));
      if (answer !== undefined) {
        if (hc.dnsType !== 'A' && hc.dnsType !== 'AAAA') f.r.issue(m.keyNode('dns_answer'), m.sub('dns_answer'), `dns_answer is an address: it needs dns_type A or AAAA, not ${hc.dnsType}`);
        else if (isIPv6(answer) !== (hc.dnsType === 'AAAA')) f.r.issue(m.value('dns_answer') ?? m.node, m.sub('dns_answer'), `${answer} cannot be the answer to an ${hc.dnsType} query; valid: an ${hc.dnsType === 'A' ? 'IPv4' : 'IPv6'} address`);
        else hc.dnsAnswer = answer;
      }
      return;
    }
    case 'smtp':
      // keepalived's default HELO name.
      hc.heloName = f.get(m, 'helo_name', str('a host name for HELO', (v) => (/[\s]/.test(v) ? `"${v}" contains white space` : undefined))) ?? 'smtpchecker.keepalived.org';
      return;
    case 'file': {
      if (!m.has('track_file')) f.r.issue(m.node, m.sub('track_file'), 'missing "track_file"; valid: track_file: NAME (an entry of vrrp_track_files)');
      const tf = f.get(m, 'track_file', text);
      if (tf !== undefined) hc.trackFile = tf;
      const w = f.get(m, 'weight', num(-65535, 65535, { integer: true, unit: 'multiplies the value read; 0: a non-zero value is down' }));
      if (w !== undefined) {
        hc.fileWeight = w;
        hc.fileReverse = f.get(m, 'reverse', bool) ?? false;
      } else if (m.has('reverse')) f.r.issue(m.keyNode('reverse'), m.sub('reverse'), 'reverse goes with weight (keepalived: weight N reverse); add weight or remove reverse');
      return;
    }
    case 'ping':
      return;
  }
}

function http(f: Fields, m: MapView, hc: HealthCheckConfig): void {
  hc.method = f.get(m, 'http_method', oneOf(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'] as const)) ?? 'GET';
  const path = str('a path starting with /', (v) => (v.startsWith('/') ? undefined : `"${v}" does not start with /`));
  hc.path = f.get(m, 'url_path', path) ?? '/';
  if (m.has('domain_name') && m.has('virtualhost')) f.r.issue(m.keyNode('virtualhost'), m.sub('virtualhost'), 'virtualhost is keepalived\'s name for domain_name; set only one');
  const host = f.get(m, 'domain_name', str('a host name for the Host header')) ?? f.get(m, 'virtualhost', str('a host name for the Host header'));
  if (host !== undefined) hc.host = host;
  const c = codes(f, m.value('expected_codes'), m.sub('expected_codes'));
  if (c !== undefined) hc.expectedCodes = c;
  const re = f.get(m, 'body_regex', str('a regular expression', (v) => {
    try {
      new RegExp(v);
      return undefined;
    } catch (err) {
      return `not a valid regular expression: ${(err as Error).message}`;
    }
  }));
  if (re !== undefined) hc.bodyRegex = re;
  if (m.has('http_protocol')) httpProtocol(f, m, hc);
  if (m.has('urls')) {
    if (m.has('url_path')) f.r.issue(m.keyNode('url_path'), m.sub('url_path'), 'url_path is the one URL of a check without urls; with urls, give each its path');
    const urls: HealthCheckUrl[] = [];
    const items = f.list(m, 'urls') ?? [];
    if (items.length === 0) f.r.issue(m.value('urls') ?? m.keyNode('urls'), m.sub('urls'), 'an empty list; valid: urls: [{path: /, status_code: "200-299", digest: MD5-HEX}]');
    items.forEach((n, i) => {
      const p = `${m.sub('urls')}[${i}]`;
      const u = f.map(n, p, 'a map {path, status_code, digest, virtualhost}');
      if (!u) return;
      u.allowOnly(['path', 'status_code', 'digest', 'virtualhost']);
      if (!u.has('path')) f.r.issue(n, u.sub('path'), 'missing "path"; valid: path: /health');
      const up = f.get(u, 'path', path);
      const digest = f.get(u, 'digest', str('the MD5 of the body, 32 hex digits (genhash or md5sum prints it)', (v) => (/^[0-9a-fA-F]{32}$/.test(v) ? undefined : `"${v}" is not 32 hex digits`)));
      const vh = f.get(u, 'virtualhost', str('a host name for the Host header'));
      // keepalived's default for a url is any 2xx; Octavia's expected_codes of the check, when given, is the default instead.
      const sc = codes(f, u.value('status_code'), u.sub('status_code')) ?? (c ?? '200-299');
      if (up !== undefined) urls.push({ path: up, expectedCodes: sc, ...(digest ? { digest: digest.toLowerCase() } : {}), ...(vh ? { host: vh } : {}) });
    });
    hc.urls = urls;
  }
  if (hc.type !== 'https') return;
  const sni = f.get(m, 'sni', text);
  if (sni !== undefined) hc.sni = sni;
  const ca = f.get(m, 'ca_file', absPath('a PEM file of CA certificates'));
  if (ca !== undefined) hc.caFile = ca;
  hc.verify = f.get(m, 'verify', bool) ?? ca !== undefined;
  const cert = f.get(m, 'cert_file', absPath('the client certificate (PEM)'));
  const key = f.get(m, 'key_file', absPath('the client certificate\'s key (PEM)'));
  if (cert !== undefined && key === undefined) f.r.issue(m.keyNode('cert_file'), m.sub('key_file'), 'a client certificate needs its key; add key_file: /path/key.pem');
  if (key !== undefined && cert === undefined) f.r.issue(m.keyNode('key_file'), m.sub('cert_file'), 'a key needs its client certificate; add cert_file: /path/cert.pem');
  if (cert !== undefined && key !== undefined) {
    hc.certFile = cert;
    hc.keyFile = key;
  }
}

/** keepalived's http_protocol, read from the source text: YAML reads a plain 1.0 as the number 1. */
function httpProtocol(f: Fields, m: MapView, hc: HealthCheckConfig): void {
  const node = m.value('http_protocol');
  const raw = isScalar(node) && typeof node.value === 'number' && node.source ? node.source : scalarValue(node);
  const v = HTTP_PROTOCOLS.find((p) => p === String(raw).toUpperCase());
  if (v) hc.httpProtocol = v;
  else f.r.issue(node ?? m.keyNode('http_protocol'), m.sub('http_protocol'), `"${String(raw)}" is not an HTTP protocol; valid: 1.0 | 1.0C | 1.1 (keepalived's http_protocol: HTTP/1.0; HTTP/1.0 with Connection: close; HTTP/1.1 with Connection: close)`);
}

function script(f: Fields, m: MapView, hc: HealthCheckConfig): void {
  if (!m.has('script')) f.r.issue(m.node, m.sub('script'), 'missing "script"; valid: script: /etc/vipd/check.sh (gets the address and port as {address} {port} or at the end)');
  const sv = scalarValue(m.value('script'));
  const argv = Array.isArray(sv) ? (f.list(m, 'script') ?? []).map((n) => String(scalarValue(n))) : typeof sv === 'string' ? sv.trim().split(/\s+/) : [];
  if (m.has('script') && (!argv[0] || !argv[0].startsWith('/'))) f.r.issue(m.value('script') ?? m.node, m.sub('script'), `"${argv[0] ?? ''}" must be an absolute path; valid: script: /etc/vipd/check.sh`);
  else if (argv[0]) f.r.script(m.value('script'), m.sub('script'), argv[0]);
  if (argv[0]?.startsWith('/')) hc.command = argv.some((a) => a.includes('{address}') || a.includes('{port}')) ? argv : [...argv, '{address}', '{port}'];
  if (f.get(m, 'misc_dynamic', bool)) hc.miscDynamic = true;
}

function udp(f: Fields, m: MapView, hc: HealthCheckConfig): void {
  const hex = (key: string, wildcards: boolean): string | undefined => {
    const v = f.get(m, key, str(`hex digits (keepalived's HEX_STR, e.g. "Ab12f 3 456"${wildcards ? '; x for a nibble that may be anything' : ''})`, (s) => {
      const r = parseHex(s, wildcards);
      return typeof r === 'string' ? r : undefined;
    }));
    return v;
  };
  const payload = hex('payload', false);
  if (payload !== undefined) hc.payload = payload;
  if (m.has('require_reply')) {
    const raw = scalarValue(m.value('require_reply'));
    if (raw === true || raw === null) hc.requireReply = true;
    else if (raw !== false) {
      const r = hex('require_reply', true);
      if (r !== undefined) hc.requireReply = r;
    }
  }
  const min = f.get(m, 'min_reply_length', num(0, 65507, { integer: true, unit: 'bytes' }));
  const max = f.get(m, 'max_reply_length', num(0, 65507, { integer: true, unit: 'bytes' }));
  for (const [k, v] of [['min_reply_length', min], ['max_reply_length', max]] as const)
    if (v !== undefined && hc.requireReply === undefined) f.r.issue(m.keyNode(k), m.sub(k), `${k} applies to the reply: add require_reply: true`);
  if (min !== undefined) hc.minReplyLength = min;
  if (max !== undefined) hc.maxReplyLength = max;
  if ((min ?? 0) > (max ?? 255)) f.r.issue(m.value('min_reply_length') ?? m.node, m.sub('min_reply_length'), `${min} is above max_reply_length ${max ?? 255}; valid: 0..${max ?? 255}`);
}
