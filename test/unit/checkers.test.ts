// keepalived's checkers: the config keys (every problem at its line:col with what
// is valid) and the pure parts — hex strings, DNS and SMTP codecs, FILE_CHECK's
// arithmetic, ICMPv6 echo, and how several checks of a real server vote.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { Director, wantedChecks } from '../../src/director/desired.js';
import { checksOf, rsHealth } from '../../src/director/rs-checks.js';
import { decodeResponse, encodeQuery } from '../../src/health/dns.js';
import { fileValue, fileVerdict } from '../../src/health/file.js';
import type { CheckState } from '../../src/health/monitor.js';
import { decodeIcmp6, encodeEcho6 } from '../../src/health/ping.js';
import { smtpReply } from '../../src/health/smtp.js';
import { parseHex, replyMatches } from '../../src/health/udp.js';
import { webService as VS } from './fixtures.js';

const checks = (yaml: string) => parseConfig(VS('', yaml), 'f.yaml').virtualServers[0]!.healthChecks;
const rejects = (yaml: string, msg: string) => expect(() => parseConfig(yaml.startsWith('virtual_servers') || yaml.startsWith('vrrp') ? yaml : VS('', yaml), 'f.yaml')).toThrow(msg);

describe('health_checks: several checkers, keepalived keys', () => {
  it('a list of checks with connect_ip, connect_port, bindto, retry / delay_before_retry mapped to fall and the retry spacing', () => {
    const [tcp, http] = checks(`health_checks:
      - {type: TCP_CHECK, connect_ip: 10.0.2.1, connect_port: 8081, bindto: 10.0.0.5, retry: 2, delay_before_retry: 0.5}
      - {type: HTTP_GET, retry: 1, urls: [{path: /a, digest: 9B3A0C85A887A256D6939DA88AABD8CD}, {path: /b, status_code: "200-299 503", virtualhost: www.example.test}]}`);
    expect(tcp).toMatchObject({ type: 'tcp', address: '10.0.2.1', port: 8081, bindto: '10.0.0.5', rise: 1, fall: 3, retryDelayMs: 500 });
    // retry without delay_before_retry: keepalived's default, 3 s for HTTP_GET; one pass brings it back (rise 1).
    expect(http).toMatchObject({ type: 'http', rise: 1, fall: 2, retryDelayMs: 3000, urls: [{ path: '/a', expectedCodes: '200-299', digest: '9b3a0c85a887a256d6939da88aabd8cd' }, { path: '/b', expectedCodes: '200-299, 503', host: 'www.example.test' }] });
    const cfg = parseConfig(VS('', `health_checks: [{type: TCP}, {type: PING}]`), 'f.yaml');
    expect([...wantedChecks(cfg).values()].map((c) => `${c.spec.type} ${c.spec.address}:${c.spec.port}`)).toEqual(['tcp 10.0.1.1:8080', 'ping 10.0.1.1:8080', 'tcp 10.0.1.2:8080', 'ping 10.0.1.2:8080']);
  });

  it('keepalived\'s connection options and warmup: bind_port, bind_if, fwmark (0: none), warmup in seconds', () => {
    const [tcp, udp, ping] = checks(`health_checks:
      - {type: TCP_CHECK, bind_port: 40000, bind_if: eth1, fwmark: 42, warmup: 2.5}
      - {type: UDP_CHECK, connect_ip: "fe80::2", bind_if: eth1, fwmark: 0, warmup: 0}
      - {type: PING_CHECK, bind_if: eth1, fwmark: 7}`);
    expect(tcp).toMatchObject({ bindPort: 40000, bindIf: 'eth1', fwmark: 42, warmupMs: 2500 });
    expect(udp).toMatchObject({ address: 'fe80::2', bindIf: 'eth1', warmupMs: 0 });
    expect(udp!.fwmark).toBeUndefined();
    expect(ping).toMatchObject({ type: 'ping', bindIf: 'eth1', fwmark: 7 });
  });

  it('a real server\'s own health_checks replace the virtual server\'s (keepalived: checkers are per real server)', () => {
    const cfg = parseConfig(`virtual_servers:
  web:
    address: 10.0.0.100
    port: 80
    health_check: {type: TCP}
    real_servers:
      - {address: 10.0.1.1, port: 8080}
      - {address: 10.0.1.2, port: 8080, health_checks: [{type: DNS_CHECK, dns_type: A, dns_name: www.example.com}, {type: SMTP_CHECK, helo_name: lb1}]}
`, 'f.yaml');
    expect([...wantedChecks(cfg).values()].map((c) => `${c.spec.type} ${c.spec.address}:${c.spec.port}`)).toEqual(['tcp 10.0.1.1:8080', 'dns 10.0.1.2:53', 'smtp 10.0.1.2:25']);
  });

  it('UDP, SMTP, DNS, SCRIPT, FILE and HTTPS keys, with keepalived\'s defaults', () => {
    expect(checks('health_check: {type: UDP_CHECK, payload: "Ab12f 3", require_reply: "50 4f xx", max_reply_length: 64}')[0]).toMatchObject({ type: 'udp', payload: 'Ab12f 3', requireReply: '50 4f xx', maxReplyLength: 64 });
    expect(checks('health_check: {type: UDP_CHECK, require_reply: true}')[0]!.requireReply).toBe(true);
    expect(checks('health_check: {type: SMTP_CHECK}')[0]).toMatchObject({ port: 25, heloName: 'smtpchecker.keepalived.org' });
    expect(checks('health_check: {type: DNS_CHECK}')[0]).toMatchObject({ port: 53, dnsType: 'SOA', dnsName: '.' });
    expect(checks('health_check: {type: MISC_CHECK, script: /bin/true, misc_dynamic: true}')[0]).toMatchObject({ type: 'script', miscDynamic: true });
    expect(checks('health_check: {type: SSL_GET, cert_file: /etc/vipd/c.pem, key_file: /etc/vipd/k.pem, virtualhost: www.example.test}')[0]).toMatchObject({ certFile: '/etc/vipd/c.pem', keyFile: '/etc/vipd/k.pem', host: 'www.example.test', verify: false });
    const file = parseConfig(`vrrp_track_files:\n  wf: {file: /run/w, weight: 0}\n${VS('', 'health_check: {type: FILE_CHECK, track_file: wf}')}`, 'f.yaml').virtualServers[0]!.healthChecks[0];
    expect(file).toMatchObject({ type: 'file', file: '/run/w', fileWeight: 0, rise: 1, fall: 1 });
    const own = parseConfig(`vrrp_track_files:\n  wf: {file: /run/w}\n${VS('', 'health_check: {type: FILE_CHECK, track_file: wf, weight: -5, reverse: true}')}`, 'f.yaml').virtualServers[0]!.healthChecks[0];
    expect(own).toMatchObject({ fileWeight: -5, fileReverse: true });
  });

  it("http_protocol: keepalived's 1.0, 1.0C (1.0c), 1.1 — plain YAML 1.0 is read as written, not as the number 1", () => {
    for (const [v, want] of [['1.0', '1.0'], ['"1.0"', '1.0'], ['1.0C', '1.0C'], ['1.0c', '1.0C'], ['1.1', '1.1']])
      expect(checks(`health_check: {type: HTTP_GET, http_protocol: ${v}}`)[0]!.httpProtocol).toBe(want);
    expect(checks('health_check: {type: SSL_GET, http_protocol: 1.1}')[0]!.httpProtocol).toBe('1.1');
    expect(checks('health_check: {type: HTTP}')[0]!.httpProtocol).toBeUndefined(); // the checker's default: 1.1
  });

  it.each([
    ['health_check: {type: TCP}\n    health_checks: [{type: PING}]', 'virtual_servers.web.health_checks: health_check is one check, health_checks a list of them; set only one'],
    ['health_checks: []', 'virtual_servers.web.health_checks: an empty list'],
    ['health_checks: [{type: TCP, retry: 2, max_retries_down: 3}]', 'f.yaml:6:33: virtual_servers.web.health_checks[0].retry: retry is keepalived\'s count of tries after the first failure (max_retries_down = retry + 1); set only one'],
    ['health_checks: [{type: TCP, port: 80, connect_port: 81}]', 'connect_port is keepalived\'s name for port; set only one'],
    ['health_checks: [{type: TCP, connect_ip: 10.0.0.300}]', 'virtual_servers.web.health_checks[0].connect_ip: "10.0.0.300" is not an IP address'],
    ['health_checks: [{type: TCP, connect_ip: "2001:db8::1", bindto: 10.0.0.1}]', '10.0.0.1 is not the family of connect_ip 2001:db8::1'],
    ['health_checks: [{type: PING, bindto: 10.0.0.1}]', 'PING checks share one raw socket'],
    ['health_checks: [{type: PING, port: 80}]', 'a PING check has no port; remove port'],
    ['health_checks: [{type: UDP, payload: "zz"}]', 'health_checks[0].payload: "zz" is not hex digits'],
    ['health_checks: [{type: UDP, min_reply_length: 4}]', 'min_reply_length applies to the reply: add require_reply: true'],
    ['health_checks: [{type: DNS, dns_type: PTR}]', 'string "PTR" is not allowed'],
    ['health_checks: [{type: DNS, dns_type: A, dns_answer: "2001:db8::1"}]', '2001:db8::1 cannot be the answer to an A query; valid: an IPv4 address'],
    ['health_checks: [{type: HTTP, urls: [{path: /, digest: abc}]}]', 'health_checks[0].urls[0].digest: "abc" is not 32 hex digits'],
    ['health_checks: [{type: HTTP, urls: [{status_code: 200}]}]', 'health_checks[0].urls[0].path: missing "path"'],
    ['health_checks: [{type: HTTP, url_path: /x, urls: [{path: /}]}]', 'with urls, give each its path'],
    ['health_checks: [{type: HTTP, urls: [{path: /, status_code: "2xx"}]}]', 'urls[0].status_code: "2xx" is not a status code or range'],
    ['health_checks: [{type: HTTPS, cert_file: /c.pem}]', 'a client certificate needs its key; add key_file'],
    ['health_checks: [{type: HTTP, http_protocol: 1}]', 'f.yaml:6:49: virtual_servers.web.health_checks[0].http_protocol: "1" is not an HTTP protocol; valid: 1.0 | 1.0C | 1.1'],
    ['health_checks: [{type: HTTP, http_protocol: "2.0"}]', 'health_checks[0].http_protocol: "2.0" is not an HTTP protocol; valid: 1.0 | 1.0C | 1.1'],
    ['health_checks: [{type: TCP, http_protocol: 1.1}]', 'http_protocol applies to HTTP/HTTPS checks, not TCP; remove it'],
    ['health_checks: [{type: HTTP, cert_file: /c.pem}]', 'cert_file applies to HTTPS checks, not HTTP; remove it'],
    ['health_checks: [{type: SMTP, helo_name: "a b"}]', '"a b" contains white space'],
    ['health_checks: [{type: FILE_CHECK}]', 'missing "track_file"'],
    ['health_checks: [{type: FILE_CHECK, track_file: nope}]', 'health_checks[0].track_file: no vrrp_track_files entry "nope"'],
    ['health_checks: [{type: MISC_CHECK, script: /bin/true, misc_dynamic: yes}]', 'misc_dynamic: expected true or false'],
    ['health_checks: [{type: TCP, bind_port: 0}]', 'health_checks[0].bind_port'],
    ['health_checks: [{type: TCP, bind_if: "eth 0"}]', 'health_checks[0].bind_if: "eth 0" is not an interface name'],
    ['health_checks: [{type: TCP, bind_if: abcdefghijklmnop}]', 'is not an interface name'],
    ['health_checks: [{type: UDP, fwmark: 4294967296}]', 'health_checks[0].fwmark'],
    ['health_checks: [{type: PING, bind_port: 99}]', 'bind_port applies to TCP, HTTP, HTTPS, UDP, DNS, SMTP checks: ICMP has no port; remove it'],
    ['health_checks: [{type: MISC_CHECK, script: /bin/true, bind_port: 99}]', 'a SCRIPT check opens no socket of its own; remove bind_port'],
    ['health_checks: [{type: TCP, connect_ip: "fe80::1"}]', 'health_checks[0].bind_if: fe80::1 is link-local: say which interface it is on; valid: bind_if: IFNAME'],
    ['health_checks: [{type: TCP, warmup: -1}]', 'health_checks[0].warmup'],
    ['health_checks: [{type: FILE_CHECK, track_file: f, warmup: 1}]', 'a FILE check runs when its file changes, not on a schedule; remove warmup'],
  ])('%s is rejected', (hc, msg) => rejects(hc, msg));
});

describe('pure parts of the checkers', () => {
  it('keepalived HEX_STR: groups read in pairs from the left, an odd last digit alone; x is a wildcard nibble', () => {
    const r = parseHex('Ab12f 3 456 546443123', false);
    expect(typeof r !== 'string' && r.bytes.toString('hex')).toBe('ab120f03450654644312' + '03');
    const p = parseHex('50 4x', true) as { bytes: Buffer; mask: Buffer };
    expect(p.mask.toString('hex')).toBe('fff0');
    expect(replyMatches(Buffer.from('PO'), p)).toBe(true);
    expect(replyMatches(Buffer.from('PA'), p)).toBe(true); // 0x41: the low nibble is not compared
    expect(replyMatches(Buffer.from('QO'), p)).toBe(false);
    expect(replyMatches(Buffer.from('P'), p)).toBe(true); // over the shorter of the two (keepalived)
    expect(parseHex('4x', false)).toBe('"4x" is not hex digits');
  });

  it('DNS: the query keepalived sends (RD, one question, IN) and the answer judged by ID, QR and RCODE', () => {
    const q = encodeQuery(0x1234, 'www.example.com', 'A');
    expect(q.toString('hex')).toBe('123401000001000000000000' + '03777777076578616d706c6503636f6d00' + '00010001');
    expect(encodeQuery(1, '.', 'SOA').subarray(12).toString('hex')).toBe('0000060001');
    const answer = Buffer.concat([Buffer.from('123481800001000100000000', 'hex'), q.subarray(12), Buffer.from('c00c000100010000003c0004c0000201', 'hex')]);
    expect(decodeResponse(answer, 0x1234)).toEqual({ kind: 'response', rcode: 0, addresses: ['192.0.2.1'] });
    expect(decodeResponse(answer, 0x1235)).toEqual({ kind: 'ignore', why: 'another ID' });
    expect(decodeResponse(q, 0x1234)).toEqual({ kind: 'ignore', why: 'a query, not a response' });
    const nx = Buffer.from(answer);
    nx.writeUInt16BE(0x8183, 2);
    expect(decodeResponse(nx, 0x1234)).toMatchObject({ rcode: 3 });
  });

  it('SMTP replies: the code of the last line of a multi-line reply, nothing until it is complete', () => {
    expect(smtpReply('250-hello\r\n250-SIZE')).toBeUndefined();
    expect(smtpReply('250-hello\r\n250 HELP\r\nrest')).toEqual({ code: 250, line: '250 HELP', used: 21 });
    expect(smtpReply('garbage\n')).toMatchObject({ code: -1 });
  });

  it('FILE_CHECK: weight 0 decides up/down (reverse flips it), else value x weight (reverse negates) is added', () => {
    expect([fileVerdict(0, 0, false), fileVerdict(7, 0, false), fileVerdict(0, 0, true), fileVerdict(7, 0, true)]).toEqual([{ ok: true }, { ok: false }, { ok: false }, { ok: true }]);
    expect(fileVerdict(3, 10, false)).toEqual({ ok: true, weightAdd: 30 });
    expect(fileVerdict(3, 10, true)).toEqual({ ok: true, weightAdd: -30 });
    expect([fileValue(' 42\n'), fileValue('-7 x'), fileValue(''), fileValue('abc')]).toEqual([42, -7, 0, 0]);
  });

  it('ICMPv6 echo: the request (the kernel sums it), the reply and an error quoting the request', () => {
    const req = encodeEcho6(0x4242, 7, Buffer.from('x'));
    expect(req.toString('hex')).toBe('80000000424200077' + '8');
    const reply = Buffer.from(req);
    reply[0] = 129;
    expect(decodeIcmp6(reply)).toEqual({ kind: 'reply', id: 0x4242, seq: 7 });
    const ip6 = Buffer.alloc(40);
    ip6[6] = 58;
    const err = Buffer.concat([Buffer.from([1, 3, 0, 0, 0, 0, 0, 0]), ip6, req]);
    expect(decodeIcmp6(err)).toEqual({ kind: 'error', id: 0x4242, seq: 7, reason: 'ICMPv6 address unreachable' });
    expect(decodeIcmp6(Buffer.from([135, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined(); // neighbour solicitation
  });
});

describe('several checks of a real server vote (keepalived: down while any checker is down)', () => {
  const cfg = parseConfig(VS('', 'health_checks: [{type: TCP}, {type: MISC_CHECK, script: /bin/true, misc_dynamic: true}]'), 'f.yaml');
  const v = cfg.virtualServers[0]!;
  const [tcp, script] = checksOf(v, v.realServers[0]!);
  const state = (key: string, o: Partial<CheckState>): CheckState => ({ key, spec: tcp!.spec, verdict: 'up', run: 1, checks: 1, failures: 0, ...o });

  it('down when one is down, with that check\'s reason; the dynamic weight of a script; none: up', () => {
    const states = new Map<string, CheckState>([
      [tcp!.key, state(tcp!.key, { verdict: 'down', last: { ok: false, reason: 'TCP ECONNREFUSED (connection refused)', ms: 1, at: 1 } })],
      [script!.key, state(script!.key, { weight: 7 })],
    ]);
    const h = rsHealth([tcp!, script!], (k) => states.get(k), false, 3)!;
    expect([h.verdict, h.lead.check.key, h.weight, h.checks]).toEqual(['down', tcp!.key, 7, 2]);
    const plan = new Director().plan(cfg, (k) => states.get(k));
    expect(plan.views[0]!.realServers[0]).toMatchObject({ status: 'ERROR', health: { reason: 'TCP ECONNREFUSED (connection refused)' } });
    states.set(tcp!.key, state(tcp!.key, {}));
    expect(new Director().plan(cfg, (k) => states.get(k)).table[0]!.dests.map((d) => d.weight)).toEqual([7, 2]);
    expect(rsHealth([], () => undefined, false, 1)).toBeUndefined();
  });

  it('FILE weights add to the configured weight, clamped at 0', () => {
    const s = (add: number): CheckState => state('f', { weightAdd: add });
    expect(rsHealth([{ spec: tcp!.spec, key: 'f' }], () => s(30), false, 2)!.weight).toBe(32);
    expect(rsHealth([{ spec: tcp!.spec, key: 'f' }], () => s(-30), false, 2)!.weight).toBe(0);
  });
});

describe('a link-local real server', () => {
  const vs = (check: string) => `virtual_servers:\n  web:\n    address: 2001:db8::100\n    port: 80\n    real_servers: [{address: "fe80::2"}]\n    health_check: ${check}\n`;
  it('its checks must name the interface (bind_if) or go elsewhere (connect_ip), as keepalived requires', () => {
    expect(() => parseConfig(vs('{type: TCP}'), 'f.yaml')).toThrow('f.yaml:5:20: virtual_servers.web.real_servers[0]: fe80::2 is link-local: its TCP check must say which interface it is on; valid: bind_if: IFNAME in the check, or connect_ip');
    expect(parseConfig(vs('{type: TCP, bind_if: eth1}'), 'f.yaml').virtualServers[0]!.realServers[0]!.address).toBe('fe80::2');
    expect(parseConfig(vs('{type: TCP, connect_ip: "2001:db8::2"}'), 'f.yaml').virtualServers).toHaveLength(1);
    expect(parseConfig(vs('{type: SCRIPT, script: /bin/true}'), 'f.yaml').virtualServers).toHaveLength(1); // the script chooses
  });
});
