// The HTTP check's own client (src/health/http-wire.ts, http.ts): the request
// bytes for each http_protocol, the answer parser fed at every byte boundary,
// and the checker against local servers that answer in odd but valid ways and
// in ways that are not HTTP — each a verdict with its reason, within the timeout.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHttp } from '../../src/health/http.js';
import { BODY_LIMIT, httpRequest, ResponseParser } from '../../src/health/http-wire.js';
import type { CheckSpec } from '../../src/health/types.js';

/** Feeds `answer` cut at `cuts`; the parser's outcome ('' complete, else the refusal), the code and the body. */
function parse(answer: string | Buffer, cuts: number[] = [], head = false, accept = (_c: number) => true) {
  const bytes = Buffer.from(answer);
  let code = 0;
  const body: Buffer[] = [];
  const p = new ResponseParser({ head: (c) => ((code = c), accept(c)), body: (b) => body.push(Buffer.from(b)) }, head);
  let out: string | undefined;
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out = p.push(bytes.subarray(at, cut));
    at = cut;
    if (out !== undefined) break;
  }
  return { out: out ?? p.end(), code, body: Buffer.concat(body).toString('latin1') };
}
/** The same answer cut in two at every byte, and fed one byte at a time: all must agree. */
function everyCut(answer: string, head = false) {
  const whole = parse(answer, [], head);
  for (let i = 1; i < answer.length; i++) expect(parse(answer, [i], head), `cut at ${i}`).toEqual(whole);
  expect(parse(answer, Array.from({ length: answer.length - 1 }, (_, i) => i + 1), head), 'byte by byte').toEqual(whole);
  return whole;
}

describe('the request: keepalived http_protocol', () => {
  const req = (o: object) => httpRequest({ method: 'GET', path: '/health', host: '10.0.0.2', port: 8080, tls: false, ...o });
  it('1.1 (the default): HTTP/1.1 with Connection: close; 1.0C: HTTP/1.0 with it; 1.0: HTTP/1.0 without', () => {
    expect(req({})).toBe('GET /health HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nUser-Agent: vipd-health-check\r\nConnection: close\r\n\r\n');
    expect(req({ protocol: '1.1' })).toBe(req({}));
    expect(req({ protocol: '1.0C' })).toBe('GET /health HTTP/1.0\r\nHost: 10.0.0.2:8080\r\nUser-Agent: vipd-health-check\r\nConnection: close\r\n\r\n');
    expect(req({ protocol: '1.0' })).toBe('GET /health HTTP/1.0\r\nHost: 10.0.0.2:8080\r\nUser-Agent: vipd-health-check\r\n\r\n');
  });
  it("Host without the scheme's own port; an empty body announced for POST", () => {
    expect(req({ port: 80, host: 'www.example.test' })).toContain('\r\nHost: www.example.test\r\n');
    expect(req({ port: 443, tls: true, host: '[fd00::2]' })).toContain('\r\nHost: [fd00::2]\r\n');
    expect(req({ port: 443, tls: false })).toContain('\r\nHost: 10.0.0.2:443\r\n');
    expect(req({ method: 'POST' })).toMatch(/^POST \/health HTTP\/1\.1\r\n.*Content-Length: 0\r\n\r\n$/s);
    expect(req({ method: 'HEAD' })).not.toContain('Content-Length');
  });
});

describe('the answer, cut at every byte boundary', () => {
  it('Content-Length: complete at its last byte, without waiting for the close; extra bytes ignored', () => {
    expect(everyCut('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello')).toEqual({ out: '', code: 200, body: 'hello' });
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA')).toEqual({ out: '', code: 200, body: 'ok' });
  });
  it('chunked, with chunk extensions and trailers', () => {
    const a = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;name=value\r\nhello\r\n1 \r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\nOther: u\r\n\r\n';
    expect(everyCut(a)).toEqual({ out: '', code: 200, body: 'hello, world' });
    // Transfer-Encoding wins over Content-Length (RFC 9112 6.3).
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n')).toEqual({ out: '', code: 200, body: 'ok' });
  });
  it('no length: the body ends with the connection (HTTP/1.0 style)', () => {
    expect(everyCut('HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil close')).toEqual({ out: '', code: 200, body: 'until close' });
  });
  it('bare LF line endings are accepted, as Node, curl and keepalived accept them', () => {
    expect(everyCut('HTTP/1.1 200 OK\nContent-Length: 2\n\nok')).toEqual({ out: '', code: 200, body: 'ok' });
    expect(everyCut('HTTP/1.1 200 OK\ntransfer-encoding: chunked\n\n2\nok\n0\n\n')).toEqual({ out: '', code: 200, body: 'ok' });
  });
  it('no body: 204, 304, an answer to HEAD (whatever Content-Length says); interim 1xx skipped', () => {
    expect(everyCut('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n')).toEqual({ out: '', code: 204, body: '' });
    expect(parse('HTTP/1.1 304 Not Modified\r\n\r\n')).toEqual({ out: '', code: 304, body: '' });
    expect(everyCut('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', true)).toEqual({ out: '', code: 200, body: '' });
    expect(everyCut('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')).toEqual({ out: '', code: 200, body: 'ok' });
    expect(parse('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')).toEqual({ out: '', code: 200, body: '' });
  });
  it('a code the check does not accept stops the parser at the head', () => {
    expect(parse('HTTP/1.1 503 Busy\r\nContent-Length: 100000\r\n\r\nbusy', [], false, (c) => c === 200)).toEqual({ out: '', code: 503, body: '' });
  });
});

describe('what is not HTTP, or not complete, is refused with a reason', () => {
  const refused = (answer: string | Buffer, reason: RegExp) => expect(parse(answer).out).toMatch(reason);
  it('not an HTTP status line', () => {
    refused('NOT HTTP AT ALL\r\n\r\n', /^not HTTP: the answer starts "NOT HTTP AT ALL/);
    refused('SSH-2.0-OpenSSH', /^not HTTP: the answer starts "SSH-2\.0/); // refused before any line ends
    refused('HTTP/2 200\r\n\r\n', /^not HTTP: the status line is "HTTP\/2 200"$/);
    refused('HTTP/1.1 OK\r\n\r\n', /^not HTTP: the status line is/);
    refused('HTTP/1.1 2000 OK\r\n\r\n', /^not HTTP: the status line is/);
    refused('', /^the server closed the connection without an answer$/);
    refused('HTTP/1.1 20', /^not HTTP: the answer ends inside its status line$/);
  });
  it('malformed headers and framing', () => {
    refused('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /^not HTTP: a header line without a name and colon/);
    refused('HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n', /^not HTTP: Content-Length "12abc" is not a number$/);
    refused('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok', /^not HTTP: two Content-Length headers, 2 and 3$/);
    refused('HTTP/1.1 200 OK\r\nServer: x\r\n', /^not HTTP: the answer ends inside its headers \(HTTP 200\)$/);
    refused(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, /^not HTTP: the header is over 64 KiB$/);
  });
  it('malformed chunked bodies', () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    refused(`${chunked}zz\r\nok\r\n0\r\n\r\n`, /^HTTP 200 but its chunked body has a chunk size "zz"$/);
    refused(`${chunked}2\r\nokay\r\n0\r\n\r\n`, /^HTTP 200 but a chunk of its body is longer than its size$/);
    refused(`${chunked}2\r\nok\r\n`, /^HTTP 200, then the connection closed inside its chunked body$/);
    refused(`${chunked}2\r\nok\r\n0\r\n`, /^HTTP 200, then the connection closed inside its chunked body$/); // trailers never ended
    refused(`${chunked}${'1'.repeat(2000)}`, /^HTTP 200 but a line of its chunked body is over 1 KiB$/);
  });
  it('a body cut short, or over the 1 MiB limit', () => {
    refused('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', /^HTTP 200, then the connection closed after 5 of the 10 bytes of its body$/);
    refused(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY_LIMIT + 1}\r\n\r\n`, /^HTTP 200 but its body is over 1 MiB \(Content-Length 1048577\), more than vipd reads$/);
    refused(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), Buffer.alloc(BODY_LIMIT + 1, 97)]), /^HTTP 200 but its body is over 1 MiB, more than vipd reads$/);
    refused(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(BODY_LIMIT + 1).toString(16)}\r\n`, /^HTTP 200 but its body is over 1 MiB, more than vipd reads$/);
  });
});

describe('the checker against local servers', () => {
  const servers: net.Server[] = [];
  const requests: string[] = [];
  /** A server that records the request and answers `answer` (then closes, unless `keep`). */
  async function serve(answer: (req: string) => string | Buffer | null, keep = false): Promise<number> {
    const s = net.createServer((c) => {
      let req = '';
      c.on('error', () => {});
      c.on('data', (d) => {
        req += d.toString('latin1');
        if (!req.includes('\r\n\r\n')) return;
        requests.push(req);
        const a = answer(req);
        if (a === null) return;
        if (keep) c.write(a);
        else c.end(a);
      });
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as net.AddressInfo).port;
  }
  const check = (port: number, o: Partial<CheckSpec> = {}) => checkHttp({ type: 'http', address: '127.0.0.1', port, intervalMs: 2000, timeoutMs: 500, rise: 1, fall: 1, ...o });
  let ok = 0;
  beforeAll(async () => {
    ok = await serve(() => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nstat\r\n7\r\nus: ok\n\r\n0\r\n\r\n');
  });
  afterAll(() => servers.forEach((s) => s.close()));

  it('sends the request of its http_protocol, and passes on a chunked 200 whose body matches', async () => {
    for (const p of ['1.0', '1.0C', '1.1'] as const) {
      requests.length = 0;
      expect(await check(ok, { httpProtocol: p, path: '/h', bodyRegex: '^status: ok\n$' })).toMatchObject({ ok: true, reason: 'HTTP 200' });
      expect(requests).toEqual([httpRequest({ method: 'GET', path: '/h', host: '127.0.0.1', port: ok, tls: false, protocol: p })]);
    }
  });
  it("a digest is the MD5 of the decoded body; a keep-alive server's Content-Length ends the answer", async () => {
    const port = await serve(() => 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', true);
    const md5 = createHash('md5').update('abc').digest('hex');
    expect(await check(port, { urls: [{ path: '/', expectedCodes: '200', digest: md5 }] })).toMatchObject({ ok: true, reason: 'HTTP 200, digest ok' });
    expect(await check(ok, { urls: [{ path: '/', expectedCodes: '200', digest: md5 }] })).toMatchObject({ ok: false, reason: expect.stringMatching(/^HTTP 200 but the body's MD5 is [0-9a-f]{32} \(expected /) });
  });
  it('HEAD: done at the head though Content-Length announces a body that never comes', async () => {
    const port = await serve(() => 'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n', true);
    expect(await check(port, { method: 'HEAD' })).toMatchObject({ ok: true, reason: 'HTTP 200' });
    expect(await check(port)).toMatchObject({ ok: false, reason: 'no complete HTTP answer within 500 ms' });
  });
  it('bindto: the connection comes from that address (the addon binds before connecting)', async () => {
    let seen = '';
    const s = net.createServer((c) => {
      seen = c.remoteAddress ?? '';
      c.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    expect(await check((s.address() as net.AddressInfo).port, { bindto: '127.0.0.2' })).toMatchObject({ ok: true, reason: 'HTTP 200' });
    expect(seen).toBe('127.0.0.2');
  });
  it('each misbehaviour fails with its reason within the timeout', async () => {
    const cases: [string | Buffer | null, boolean, RegExp][] = [
      ['HTTP/1.1 503 Busy\r\nContent-Length: 5\r\n\r\nbusy\n', false, /^HTTP 503 \(expected 200\)$/],
      ['garbage\r\n', false, /^not HTTP: the answer starts "garbage/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n', true, /^HTTP 200 but its chunked body has a chunk size "xyz"$/],
      [Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), Buffer.alloc(BODY_LIMIT + 10, 97)]), true, /^HTTP 200 but its body is over 1 MiB/],
      ['', false, /^the server closed the connection without an answer$/],
      [null, true, /^no complete HTTP answer within 500 ms$/],
    ];
    for (const [answer, keep, reason] of cases) {
      const port = await serve(() => answer, keep);
      const t0 = Date.now();
      const r = await check(port);
      expect(r.reason, JSON.stringify(answer?.slice(0, 40))).toMatch(reason);
      expect(r.ok).toBe(false);
      expect(Date.now() - t0).toBeLessThan(1500);
    }
    expect(await check(ok, { bindto: '192.0.2.77' })).toMatchObject({ ok: false, reason: 'TCP EADDRNOTAVAIL (bind)' }); // not an address of this host
    const closed = await serve(() => '');
    servers.at(-1)!.close();
    expect(await check(closed)).toMatchObject({ ok: false, reason: 'TCP ECONNREFUSED (connection refused)' });
  });
});
