// The two ends of the load-balanced traffic in the guest, each run inside a
// network namespace (ip netns exec):
//   server NAME TCPPORT,... UDPADDR:PORT,...  answers every line (TCP) or datagram (UDP) with NAME
//   client tcp|udp HOST PORT COUNT [SPORT]    COUNT requests, each on a new connection / source port
//                                             (UDP: SPORT, SPORT+1, ... so that no request reuses the
//                                             IPVS connection of an earlier one); prints a JSON array
//                                             of the names that answered
//   http NAME PORT                            an HTTP server: every request gets 200 "Hello from NAME"
//   client http HOST PORT COUNT               COUNT HTTP GETs, each on a new connection: prints a JSON
//                                             array of the bodies (or "error: ...")
//   hold HOST PORT                            one TCP connection kept open: on every stdin line it
//                                             asks once and prints the answer (or "error: ...")
//   flows HOST PORT N                         N TCP connections kept open (the ECMP tier); prints one JSON
//                                             line per stdin command: "probe" asks on every connection at
//                                             once -> {sports, answers}; "fresh K" opens K new connections
//                                             one after another -> {sports, answers}; "churn" starts a new
//                                             connection every 100 ms in the background, "churned" reports
//                                             and resets its {ok, failed} counts
// Also the peers of the systemd tier's gateways (test/systemd). Run compiled:
// node dist-test/test/vm/guest/lb-peer.js.

import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';

const [mode, ...args] = process.argv.slice(2) as [string | undefined, ...string[]];
const line = (sock: net.Socket): Promise<string> =>
  new Promise((resolve, reject) => {
    let buf = '';
    const done = () => (sock.off('data', onData), sock.off('error', onError), sock.off('close', onClose));
    const onData = (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) done(), resolve(buf.slice(0, i));
    };
    const onError = (e: Error) => (done(), reject(e));
    const onClose = () => (done(), reject(new Error('connection closed')));
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
  });

if (mode === 'server') {
  const [name, tcpPorts = '', udpBinds] = args;
  let ready = 0;
  const want = tcpPorts.split(',').length + (udpBinds ? udpBinds.split(',').length : 0);
  const up = () => ++ready === want && console.log('ready');
  for (const port of tcpPorts.split(','))
    net
      .createServer((s) => {
        s.setEncoding('utf8');
        s.on('data', (d: string) => {
          for (let n = d.split('\n').length - 1; n > 0; n--) s.write(`${name}\n`);
        });
        s.on('error', () => {});
      })
      .listen(Number(port), '0.0.0.0', up);
  // UDP sockets bound to each address they serve: a reply leaves from the
  // address the request went to (a VIP for direct routing and tunnels).
  for (const b of udpBinds ? udpBinds.split(',') : []) {
    const [addr, port] = b.split(':') as [string, string];
    const u = dgram.createSocket('udp4');
    u.on('message', (_m, r) => u.send(`${name}\n`, r.port, r.address));
    u.bind(Number(port), addr, up);
  }
} else if (mode === 'http') {
  const [name, port] = args;
  http
    .createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`Hello from ${name}\n`))
    .listen(Number(port), '0.0.0.0', () => console.log('ready'));
} else if (mode === 'client') {
  const [proto, host, port, count, sport] = args;
  const names: string[] = [];
  for (let i = 0; i < Number(count); i++) {
    if (proto === 'http') {
      names.push(
        await new Promise<string>((resolve) => {
          const req = http.get({ host, port: Number(port), path: '/', agent: false, timeout: 3000 }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `error: HTTP ${res.statusCode}`));
            res.on('error', (e) => resolve(`error: ${e.message}`));
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', (e) => resolve(`error: ${e.message}`));
        }),
      );
    } else if (proto === 'tcp') {
      const s = net.connect(Number(port), host);
      s.setEncoding('utf8');
      s.setTimeout(3000, () => s.destroy(new Error('timeout')));
      try {
        await new Promise((resolve, reject) => (s.once('connect', resolve), s.once('error', reject)));
        s.write('hello\n');
        names.push(await line(s));
      } catch (err) {
        names.push(`error: ${(err as Error).message}`);
      }
      s.destroy();
    } else {
      const u = dgram.createSocket('udp4');
      names.push(
        await new Promise<string>((resolve) => {
          const t = setTimeout(() => resolve('error: timeout'), 3000);
          u.on('message', (m, r) => {
            clearTimeout(t);
            // The answer must come from the address asked (the VIP), as a real client's resolver checks.
            resolve(r.address === host && r.port === Number(port) ? m.toString().trim() : `error: answer from ${r.address}:${r.port}`);
          });
          u.bind(sport ? Number(sport) + i : 0, () => u.send('hello\n', Number(port), host));
        }),
      );
      u.close();
    }
  }
  console.log(JSON.stringify(names));
} else if (mode === 'hold') {
  const [host, port] = args;
  const s = net.connect(Number(port), host);
  s.setEncoding('utf8');
  s.on('error', (e) => console.log(`error: ${e.message}`));
  s.once('connect', () => console.log('connected'));
  const rl = createInterface({ input: process.stdin });
  for await (const _ of rl) {
    s.write('hello\n');
    try {
      console.log(await Promise.race([line(s), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 5000))]));
    } catch (err) {
      console.log(`error: ${(err as Error).message}`);
    }
  }
  s.destroy();
} else if (mode === 'flows') {
  const [host, port, n] = args;
  /** One exchange on a connection: the answering server's name, or "error: ...". */
  const ask = async (s: net.Socket): Promise<string> => {
    if (s.destroyed) return 'error: connection closed';
    s.write('hello\n');
    try {
      return await Promise.race([line(s), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 3000))]);
    } catch (err) {
      return `error: ${(err as Error).message}`;
    }
  };
  const open = (): Promise<net.Socket | string> =>
    new Promise((resolve) => {
      const s = net.connect(Number(port), host);
      s.setEncoding('utf8');
      const t = setTimeout(() => (s.destroy(), resolve('error: connect timeout')), 3000);
      s.once('connect', () => (clearTimeout(t), resolve(s)));
      s.once('error', (e) => (clearTimeout(t), resolve(`error: ${e.message}`)));
    });
  const fresh = async (k: number) => {
    const sports: number[] = [];
    const answers: string[] = [];
    for (let i = 0; i < k; i++) {
      const s = await open();
      if (typeof s === 'string') (sports.push(0), answers.push(s));
      else (sports.push(s.localPort!), answers.push(await ask(s)), s.destroy());
    }
    return { sports, answers };
  };
  const conns: net.Socket[] = [];
  for (let i = 0; i < Number(n); i++) {
    const s = await open();
    if (typeof s === 'string') throw new Error(s);
    s.on('error', () => {});
    conns.push(s);
  }
  let churn = { ok: 0, failed: 0 };
  let churning: NodeJS.Timeout | undefined;
  console.log(JSON.stringify({ sports: conns.map((s) => s.localPort), answers: await Promise.all(conns.map(ask)) }));
  for await (const cmd of createInterface({ input: process.stdin })) {
    const [verb, arg] = cmd.trim().split(/\s+/);
    if (verb === 'probe') console.log(JSON.stringify({ sports: conns.map((s) => s.localPort), answers: await Promise.all(conns.map(ask)) }));
    else if (verb === 'fresh') console.log(JSON.stringify(await fresh(Number(arg))));
    else if (verb === 'churn') {
      churning ??= setInterval(() => void fresh(1).then((r) => (r.answers[0]!.startsWith('error') ? churn.failed++ : churn.ok++)), 100);
      console.log(JSON.stringify({ churning: true }));
    }
    else if (verb === 'churned') console.log(JSON.stringify(churn)), (churn = { ok: 0, failed: 0 });
  }
  clearInterval(churning);
  for (const s of conns) s.destroy();
} else {
  console.error('usage: lb-peer.js server|http|client|hold|flows ...');
  process.exit(2);
}
