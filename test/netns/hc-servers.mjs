// Real servers that behave well and badly, for the health-check tests. Runs in
// a network namespace: node hc-servers.mjs CERT_DIR. Prints "ready" when all listen.
//   8001 HTTP 200 "status: ok"      8002 HTTP 503            8003 garbage, not HTTP
//   8004 HTTP 200, body never ends  8005 TCP reset on accept 8006 accepts, never answers
//   8007 TCP banner "220 ready" after "HELO\n"               8443 HTTPS 200 (self-signed, SNI)
//   8008 HTTP: "path=P host=H from=ADDR" (404 for /missing)  8009 TCP: writes "from=ADDR" on accept
//   8444 HTTPS asking for a client certificate signed by client.pem: "client=CN"
//   2525 SMTP (220, 250 to HELO, 221 to QUIT)              2526 SMTP that refuses (554 greeting)
//   UDP 9001 echoes "PONG" + the datagram                  UDP 9002 bound, never answers
//   UDP 53 a DNS responder: A www.example.test = 10.98.0.80, SOA . NOERROR, else NXDOMAIN

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import dgram from 'node:dgram';
import net from 'node:net';

const dir = process.argv[2];
const listeners = [];
const on = (server, port) => listeners.push(new Promise((r) => server.listen(port, '0.0.0.0', r)));

on(http.createServer((_q, s) => s.end('status: ok\n')), 8001);
on(http.createServer((_q, s) => ((s.statusCode = 503), s.end('busy\n'))), 8002);
on(net.createServer((c) => c.end('NOT HTTP AT ALL\r\n\r\n')), 8003);
on(http.createServer((_q, s) => (s.writeHead(200, { 'Content-Length': '1000000' }), s.write('partial'))), 8004);
on(net.createServer((c) => c.resetAndDestroy()), 8005);
on(net.createServer(() => {}), 8006);
on(net.createServer((c) => c.on('data', (d) => d.toString().includes('HELO') && c.write('220 ready\r\n'))), 8007);
on(https.createServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) }, (q, s) => s.end(`sni=${q.socket.servername}\n`)), 8443);
on(http.createServer((q, s) => ((s.statusCode = q.url === '/missing' ? 404 : 200), s.end(`path=${q.url} host=${q.headers.host} from=${q.socket.remoteAddress}\n`))), 8008);
on(net.createServer((c) => c.end(`from=${c.remoteAddress}\n`)), 8009);
const clientCa = readFileSync(`${dir}/client.pem`);
on(https.createServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`), requestCert: true, rejectUnauthorized: true, ca: clientCa }, (q, s) => s.end(`client=${q.socket.getPeerCertificate().subject?.CN}\n`)), 8444);
const smtp = (greeting) => net.createServer((c) => {
  c.write(`${greeting}\r\n`);
  let buf = '';
  c.on('data', (d) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (/^HELO /i.test(line)) c.write(`250-srv.example.test greets ${line.slice(5)}\r\n250 HELP\r\n`);
      else if (/^QUIT/i.test(line)) c.end('221 bye\r\n');
      else c.write('500 what?\r\n');
    }
  });
});
on(smtp('220 srv.example.test ESMTP ready'), 2525);
on(smtp('554 no SMTP service here'), 2526);
const udp = (port, answer) => listeners.push(new Promise((r) => {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, rinfo) => answer(u, m, rinfo));
  u.bind(port, '0.0.0.0', r);
}));
udp(9001, (u, m, ri) => u.send(Buffer.concat([Buffer.from('PONG'), m]), ri.port, ri.address));
udp(9002, () => {});
// DNS: the question echoed, one A record for www.example.test, NOERROR for SOA of the root, else NXDOMAIN.
udp(53, (u, m, ri) => {
  let off = 12;
  const labels = [];
  while (m[off]) (labels.push(m.subarray(off + 1, off + 1 + m[off]).toString()), (off += 1 + m[off]));
  const name = labels.join('.');
  const qtype = m.readUInt16BE(off + 1);
  const question = m.subarray(12, off + 5);
  const a = name === 'www.example.test' && qtype === 1;
  const ok = a || (name === '' && qtype === 6);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(m.readUInt16BE(0), 0);
  h.writeUInt16BE(0x8180 | (ok ? 0 : 3), 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(a ? 1 : 0, 6);
  const rr = a ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 98, 0, 80]) : Buffer.alloc(0);
  u.send(Buffer.concat([h, question, rr]), ri.port, ri.address);
});
await Promise.all(listeners);
console.log('ready');
