// Real servers that behave well and badly, for the health-check tests. Runs in
// a network namespace: node hc-servers.mjs CERT_DIR. Prints "ready" when all listen.
//   8001 HTTP 200 "status: ok"      8002 HTTP 503            8003 garbage, not HTTP
//   8004 HTTP 200, body never ends  8005 TCP reset on accept 8006 accepts, never answers
//   8007 TCP banner "220 ready" after "HELO\n"               8443 HTTPS 200 (self-signed, SNI)

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
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
await Promise.all(listeners);
console.log('ready');
