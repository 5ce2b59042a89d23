// Servers that tell a check where it came from, for the checker-options tests.
// Runs in a network namespace: node peer-servers.mjs LOG ADDRESS CERT KEY. Prints "ready" when all listen.
//   TCP 7001: writes "from=ADDR:PORT\n" on accept; appends the same line to LOG
//   TCP [::]:7003 (IPv6): the same as 7001
//   HTTP 7004, HTTPS 7005 (CERT, KEY): 200 with the body "from=ADDR:PORT"; appends "http(s) from=..." to LOG
//   UDP ADDRESS:7002 (bound to it, so that answers come from it): answers each datagram with "from=ADDR:PORT"; appends the same line to LOG

import { appendFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

const [log, address, cert, key] = process.argv.slice(2);
const peer = (c) => {
  const line = `from=${c.remoteAddress}:${c.remotePort}`;
  appendFileSync(log, `tcp ${line}\n`);
  c.on('error', () => {});
  c.end(`${line}\n`);
};
const tcp = net.createServer(peer);
const tcp6 = net.createServer(peer);
const udp = dgram.createSocket('udp4');
udp.on('message', (_m, r) => {
  const line = `from=${r.address}:${r.port}`;
  appendFileSync(log, `udp ${line}\n`);
  udp.send(line, r.port, r.address);
});
const answer = (kind) => (req, res) => {
  const line = `from=${req.socket.remoteAddress}:${req.socket.remotePort}`;
  appendFileSync(log, `${kind} ${line}\n`);
  res.end(line);
};
const web = http.createServer(answer('http'));
const webs = https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, answer('https'));
await Promise.all([new Promise((r) => web.listen(7004, '0.0.0.0', r)), new Promise((r) => webs.listen(7005, '0.0.0.0', r)), new Promise((r) => tcp.listen(7001, '0.0.0.0', r)), new Promise((r) => tcp6.listen({ port: 7003, host: '::', ipv6Only: true }, r)), new Promise((r) => udp.bind(7002, address, r))]);
console.log('ready');
