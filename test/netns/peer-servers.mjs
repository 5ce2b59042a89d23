// Servers that tell a check where it came from, for the checker-options tests.
// Runs in a network namespace: node peer-servers.mjs LOG ADDRESS. Prints "ready" when all listen.
//   TCP 7001: writes "from=ADDR:PORT\n" on accept; appends the same line to LOG
//   TCP [::]:7003 (IPv6): the same as 7001
//   UDP ADDRESS:7002 (bound to it, so that answers come from it): answers each datagram with "from=ADDR:PORT"; appends the same line to LOG

import { appendFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';

const [log, address] = process.argv.slice(2);
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
await Promise.all([new Promise((r) => tcp.listen(7001, '0.0.0.0', r)), new Promise((r) => tcp6.listen({ port: 7003, host: '::', ipv6Only: true }, r)), new Promise((r) => udp.bind(7002, address, r))]);
console.log('ready');
