// keepalived's connection options of a checker, on the real kernel: bind_port
// (the source port the server sees), bind_if (SO_BINDTODEVICE: the packets leave
// by that interface although the route says another), fwmark (SO_MARK: a policy
// route on the mark carries the check, and an nftables counter on the mark counts
// its packets). The director namespace has two links to the server; the
// server's address 10.97.9.2 is routed by the first. TCP, UDP, HTTP, HTTPS and PING checks.

import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, waitFor } from './lab.js';

const SERVERS = fileURLToPath(new URL('./peer-servers.mjs', import.meta.url));
const PROBE = fileURLToPath(new URL('./health-probe.mjs', import.meta.url));
const TARGET = '10.97.9.2';
let lab: Lab;
let log: string;

const probe = (specs: object[]): { ok: boolean; reason: string }[] => JSON.parse(lab.exec('dir', process.execPath, [PROBE, JSON.stringify(specs)]));
const hex = (text: string): string => Buffer.from(text).toString('hex');
/** The packets the director sent with mark 42 (nftables counter). */
const counter = (chain: string) => (): number => Number(/packets (\d+)/.exec(lab.exec('dir', 'nft', ['list', 'chain', 'ip', 'vtc', chain]))![1]);
const marked = counter('out');
/** The echo requests the director sent out of eth1. */
const echoesOnEth1 = counter('echo');
const peers = (): string[] => readFileSync(log, 'utf8').trim().split('\n');

beforeAll(async () => {
  lab = new Lab('co');
  lab.addHost('dir', [
    { bridge: 'br0', ifname: 'eth0', cidr: '10.97.0.1/24' },
    { bridge: 'br1', ifname: 'eth1', cidr: '10.97.1.1/24' },
  ]);
  lab.addHost('srv', [
    { bridge: 'br0', ifname: 'eth0', cidr: '10.97.0.2/24' },
    { bridge: 'br1', ifname: 'eth1', cidr: '10.97.1.2/24' },
  ]);
  lab.ip('srv', ['addr', 'add', `${TARGET}/32`, 'dev', 'lo']);
  lab.ip('dir', ['route', 'add', `${TARGET}/32`, 'via', '10.97.0.2', 'dev', 'eth0']);
  // Marked packets take the second link (policy routing on the mark).
  lab.ip('dir', ['rule', 'add', 'fwmark', '42', 'table', '42']);
  lab.ip('dir', ['route', 'add', `${TARGET}/32`, 'via', '10.97.1.2', 'dev', 'eth1', 'table', '42']);
  // Answers to the second link come back by it, not by the route: no reverse-path drop.
  for (const h of ['dir', 'srv']) for (const k of ['all', 'default', 'eth0', 'eth1']) lab.exec(h, 'sysctl', ['-qw', `net.ipv4.conf.${k}.rp_filter=0`]);
  lab.exec('dir', 'nft', ['add', 'table', 'ip', 'vtc']);
  lab.exec('dir', 'nft', ['add', 'chain', 'ip', 'vtc', 'out', '{', 'type', 'filter', 'hook', 'output', 'priority', '0', ';', '}']);
  lab.exec('dir', 'nft', ['add', 'rule', 'ip', 'vtc', 'out', 'meta', 'mark', '42', 'counter']);
  lab.exec('dir', 'nft', ['add', 'chain', 'ip', 'vtc', 'echo', '{', 'type', 'filter', 'hook', 'output', 'priority', '0', ';', '}']);
  lab.exec('dir', 'nft', ['add', 'rule', 'ip', 'vtc', 'echo', 'oifname', 'eth1', 'icmp', 'type', 'echo-request', 'counter']);
  // The server's kernel counts the SYNs from source port 40123 (the connect check's bind_port).
  lab.exec('srv', 'nft', ['add', 'table', 'ip', 'vtc']);
  lab.exec('srv', 'nft', ['add', 'chain', 'ip', 'vtc', 'syn', '{', 'type', 'filter', 'hook', 'input', 'priority', '0', ';', '}']);
  lab.exec('srv', 'nft', ['add', 'rule', 'ip', 'vtc', 'syn', 'ip', 'saddr', '10.97.0.1', 'tcp', 'sport', '40123', 'tcp', 'dport', '7001', 'tcp', 'flags', '&', '(syn|ack)', '==', 'syn', 'counter']);
  log = join(lab.dir, 'peers.log');
  const [cert, key] = [join(lab.dir, 'cert.pem'), join(lab.dir, 'key.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=srv.test'], { stdio: 'ignore' });
  const child = lab.spawn('srv', process.execPath, [SERVERS, log, TARGET, cert, key]);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`servers exited ${c}`)));
  });
}, 30_000);

afterAll(async () => {
  await lab?.destroy();
});

describe('bind_port: the source port the server sees', () => {
  it('TCP connect check (the addon\'s probe), twice in a row from the same port', () => {
    const spec = { type: 'tcp', address: TARGET, port: 7001, bindPort: 40123 };
    expect(probe([spec])[0]).toMatchObject({ ok: true, reason: 'TCP connect ok' });
    expect(probe([spec])[0]).toMatchObject({ ok: true, reason: 'TCP connect ok' });
    // Counted by the server's kernel, not its log: the check resets its connection once
    // connected (no TIME_WAIT on a fixed port), and a reset that comes before the server
    // accepts leaves it no peer address to log (CI saw one line of two).
    expect(Number(/packets (\d+)/.exec(lab.exec('srv', 'nft', ['list', 'chain', 'ip', 'vtc', 'syn']))![1])).toBe(2);
  });

  it('TCP check that reads the answer: the server writes back the port it saw', () => {
    expect(probe([{ type: 'tcp', address: TARGET, port: 7001, bindPort: 40125, expect: 'from=10.97.0.1:40125\n' }])[0]).toMatchObject({ ok: true });
    expect(probe([{ type: 'tcp', address: TARGET, port: 7001, bindPort: 40126, expect: 'from=10.97.0.1:40125\n' }])[0]).toMatchObject({ ok: false });
  });

  it('UDP check: the reply names the port', () => {
    expect(probe([{ type: 'udp', address: TARGET, port: 7002, bindPort: 40124, requireReply: hex('from=10.97.0.1:40124') }])[0]).toMatchObject({ ok: true });
  });

  it('HTTP (the addon\'s connection) and HTTPS (TLS over the addon\'s socket): the body names the port', () => {
    const r = probe([
      { type: 'http', address: TARGET, port: 7004, bindPort: 40127, bodyRegex: 'from=10\\.97\\.0\\.1:40127$' },
      { type: 'https', address: TARGET, port: 7005, bindPort: 40128, bodyRegex: 'from=10\\.97\\.0\\.1:40128$' },
    ]);
    expect(r, JSON.stringify(r)).toMatchObject([{ ok: true }, { ok: true }]);
    expect(peers()).toEqual(expect.arrayContaining(['http from=10.97.0.1:40127', 'https from=10.97.0.1:40128']));
  });

  it('a port already taken: the check fails and says why', () => {
    const r = probe([{ type: 'udp', address: TARGET, port: 7002, bindPort: 7002, bindto: '10.97.0.1', requireReply: true }, { type: 'udp', address: TARGET, port: 7002, bindPort: 7002, bindto: '10.97.0.1', requireReply: true }]);
    expect(r.map((x) => x.reason)).toContain('UDP EADDRINUSE (bind)');
  });
});

describe('bind_if: out of that interface whatever the route says', () => {
  it('without bind_if the route picks eth0 (the control)', () => {
    expect(probe([{ type: 'tcp', address: TARGET, port: 7001, expect: 'from=10.97.0.1:' }])[0]).toMatchObject({ ok: true });
  });

  it('TCP and UDP with bind_if eth1 come from eth1\'s address', () => {
    const r = probe([
      { type: 'tcp', address: TARGET, port: 7001, bindIf: 'eth1', expect: 'from=10.97.1.1:' },
      { type: 'udp', address: TARGET, port: 7002, bindIf: 'eth1', requireReply: hex('from=10.97.1.1:') },
    ]);
    expect(r.map((x) => x.ok)).toEqual([true, true]);
  });

  it('a link-local server: reached with bind_if (keepalived requires it), refused by the kernel without', async () => {
    const ll = (host: string) => /inet6 (fe80::[0-9a-f:]+)\/64/.exec(lab.exec(host, 'ip', ['-6', 'addr', 'show', 'dev', 'eth1', 'scope', 'link']))?.[1];
    let server: string | undefined;
    // Both ends past DAD: a tentative source cannot be bound (CI saw EADDRNOTAVAIL from the director's).
    const settled = (host: string) => ll(host) !== undefined && !lab.exec(host, 'ip', ['-6', 'addr', 'show', 'dev', 'eth1', 'tentative']).includes('fe80');
    await waitFor('both link-local addresses, past DAD', () => {
      server = ll('srv');
      return settled('srv') && settled('dir');
    });
    const r = probe([
      { type: 'tcp', address: server, port: 7003, bindIf: 'eth1', expect: `from=${ll('dir')}%eth1:` },
      { type: 'tcp', address: server, port: 7003 },
    ]);
    expect(r[0], JSON.stringify(r)).toMatchObject({ ok: true });
    expect(r[1]).toMatchObject({ ok: false, reason: 'TCP EINVAL' });
  });

  it('HTTP and HTTPS with bind_if eth1 and with fwmark 42 leave by eth1 (marked: the nftables counter rises)', () => {
    const before = marked();
    const r = probe([
      { type: 'http', address: TARGET, port: 7004, bindIf: 'eth1', bodyRegex: '^from=10\\.97\\.1\\.1:' },
      { type: 'https', address: TARGET, port: 7005, bindIf: 'eth1', bodyRegex: '^from=10\\.97\\.1\\.1:' },
      { type: 'http', address: TARGET, port: 7004, fwmark: 42, bodyRegex: '^from=10\\.97\\.1\\.1:' },
      { type: 'https', address: TARGET, port: 7005, fwmark: 42, bodyRegex: '^from=10\\.97\\.1\\.1:' },
    ]);
    expect(r, JSON.stringify(r)).toMatchObject([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    expect(marked() - before).toBeGreaterThanOrEqual(6);
  });

  it('an interface that does not exist: the check fails with ENODEV', () => {
    expect(probe([{ type: 'tcp', address: TARGET, port: 7001, bindIf: 'nosuch0' }])[0]).toMatchObject({ ok: false, reason: 'TCP ENODEV (SO_BINDTODEVICE)' });
  });
});

describe('fwmark: the check\'s packets carry the mark', () => {
  it('the connect probe, a talking TCP check and a UDP check take the mark\'s route, and nftables counts marked packets', () => {
    const before = marked();
    const lines = peers().length;
    const r = probe([
      { type: 'tcp', address: TARGET, port: 7001, fwmark: 42 },
      { type: 'tcp', address: TARGET, port: 7001, fwmark: 42, expect: 'from=10.97.1.1:' },
      { type: 'udp', address: TARGET, port: 7002, fwmark: 42, requireReply: hex('from=10.97.1.1:') },
    ]);
    expect(r.map((x) => x.ok)).toEqual([true, true, true]);
    expect(peers().slice(lines).filter((l) => l.startsWith('tcp from=10.97.1.1:'))).toHaveLength(2);
    // Each TCP check: SYN, ACK, FIN or RST at least; the UDP check one datagram.
    expect(marked() - before).toBeGreaterThanOrEqual(7);
  });

  it('PING: a marked echo takes the mark\'s route (out of eth1), as one with bind_if eth1; a plain one takes eth0', () => {
    const [m0, e0] = [marked(), echoesOnEth1()];
    expect(probe([{ type: 'ping', address: TARGET }])[0]).toMatchObject({ ok: true, reason: 'ICMP echo reply' });
    expect([marked() - m0, echoesOnEth1() - e0]).toEqual([0, 0]);
    expect(probe([{ type: 'ping', address: TARGET, fwmark: 42 }])[0]).toMatchObject({ ok: true, reason: 'ICMP echo reply' });
    expect([marked() - m0, echoesOnEth1() - e0]).toEqual([1, 1]);
    expect(probe([{ type: 'ping', address: TARGET, bindIf: 'eth1' }])[0]).toMatchObject({ ok: true, reason: 'ICMP echo reply' });
    expect([marked() - m0, echoesOnEth1() - e0]).toEqual([1, 2]);
  });

  it('an unmarked check is not counted', () => {
    const before = marked();
    expect(probe([{ type: 'tcp', address: TARGET, port: 7001 }])[0]).toMatchObject({ ok: true });
    expect(marked()).toBe(before);
  });
});
