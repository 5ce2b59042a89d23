// The health-check benchmark's targets, run in their own namespace in the guest:
//   node checks-targets.js ADDRESS TCP_FIRST TCP_COUNT HTTP_FIRST HTTP_COUNT
// TCP listeners accept and close; HTTP listeners answer 200 "ok". Prints "ready",
// then every second "served N" (connections accepted in that second: the checks
// actually performed, whoever the checker is). On stdin "kill PORT" closes that
// listener (connections are then refused) and prints "killed PORT EPOCH_MS".

import http from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';

const [address, tcpFirst, tcpCount, httpFirst, httpCount] = process.argv.slice(2);
const servers = new Map<number, net.Server | http.Server>();
let served = 0;
let pending = Number(tcpCount) + Number(httpCount);
const listening = () => --pending === 0 && console.log('ready');
for (let p = Number(tcpFirst); p < Number(tcpFirst) + Number(tcpCount); p++) {
  const s = net.createServer((c) => {
    served++;
    c.on('error', () => {});
    c.destroy();
  });
  s.listen({ port: p, host: address, backlog: 511 }, listening);
  servers.set(p, s);
}
for (let p = Number(httpFirst); p < Number(httpFirst) + Number(httpCount); p++) {
  const s = http.createServer((_req, res) => {
    served++;
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end('ok\n');
  });
  s.keepAliveTimeout = 1000;
  s.listen({ port: p, host: address, backlog: 511 }, listening);
  servers.set(p, s);
}
setInterval(() => {
  console.log(`served ${served}`);
  served = 0;
}, 1000);
for await (const line of createInterface({ input: process.stdin })) {
  const m = /^kill (\d+)$/.exec(line.trim());
  const s = m && servers.get(Number(m[1]));
  if (!s) continue;
  s.close();
  if (s instanceof http.Server) s.closeAllConnections();
  console.log(`killed ${m[1]} ${Date.now()}`);
}
