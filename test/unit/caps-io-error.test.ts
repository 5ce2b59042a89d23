// Capabilities from /proc/self/status and the one-line I/O error texts.

import { describe, expect, it } from 'vitest';
import { hasCapIn, missingCapWarnings, parseCapEff, readCapEff } from '../../src/daemon/caps.js';
import { errnoCode, ioErrorLine } from '../../src/vrrp/io-error.js';

const STATUS = (eff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\n`;

describe('capabilities', () => {
  it('reads CapEff: bit 12 is CAP_NET_ADMIN, bit 13 CAP_NET_RAW', () => {
    expect(parseCapEff(STATUS('000001ffffffffff'))).toBe(0x1ffffffffffn);
    expect(parseCapEff(STATUS('0000000000003000'))).toBe(0x3000n);
    expect(hasCapIn(0x1000n, 'CAP_NET_ADMIN')).toBe(true);
    expect(hasCapIn(0x1000n, 'CAP_NET_RAW')).toBe(false);
    expect(hasCapIn(0x2000n, 'CAP_NET_RAW')).toBe(true);
  });

  it('one line per missing capability, naming what needs it and the fix; none when all are there or /proc cannot tell', () => {
    expect(missingCapWarnings(0n).map((w) => w.line)).toEqual([
      'vipd runs without CAP_NET_RAW: VRRP adverts, ICMP health checks and gratuitous ARP (raw and packet sockets) will fail — run as root or under the shipped unit',
      'vipd runs without CAP_NET_ADMIN: adding VIPs and programming IPVS will fail — run as root or under the shipped unit',
    ]);
    expect(missingCapWarnings(0x2000n).map((w) => w.cap)).toEqual(['CAP_NET_ADMIN']);
    expect(missingCapWarnings(0x3000n)).toEqual([]);
    expect(missingCapWarnings(undefined)).toEqual([]);
  });

  it('malformed or missing status: undefined, never a throw', () => {
    expect(parseCapEff('')).toBeUndefined();
    expect(parseCapEff('CapEff:\tzzzz\n')).toBeUndefined();
    expect(parseCapEff('CapEff:\t00000000000000000000\n')).toBeUndefined();
    expect(readCapEff('/nonexistent/status')).toBeUndefined();
    expect(typeof readCapEff()).toBe('bigint'); // this process's own
  });
});

describe('I/O error lines', () => {
  it('finds the errno from a code or from strerror() text (raw-socket gives only the text)', () => {
    expect(errnoCode(Object.assign(new Error('x'), { code: 'ENODEV' }))).toBe('ENODEV');
    expect(errnoCode(new Error('Operation not permitted'))).toBe('EPERM');
    expect(errnoCode(new Error('Network is unreachable'))).toBe('ENETUNREACH');
    expect(errnoCode(new Error('something else'))).toBeUndefined();
    expect(errnoCode(Object.assign(new Error('x'), { code: 'ERR_SOCKET_CLOSED' }))).toBeUndefined();
  });

  it('names the fix for the usual causes', () => {
    expect(ioErrorLine({ op: 'vip', vip: '10.0.0.1/24', device: 'eth1' }, Object.assign(new Error('add'), { code: 'EPERM' }))).toBe(
      'cannot add VIP 10.0.0.1/24 to eth1: EPERM (operation not permitted): vipd needs CAP_NET_ADMIN — run as root or under the shipped unit',
    );
    expect(ioErrorLine({ op: 'socket', ifname: 'eth0' }, new Error('Operation not permitted'))).toBe(
      'cannot open the VRRP socket on eth0: EPERM (operation not permitted): vipd needs CAP_NET_RAW — run as root or under the shipped unit',
    );
    expect(ioErrorLine({ op: 'vip', vip: '10.0.0.1/24', device: 'eth1' }, Object.assign(new Error('add'), { code: 'ENODEV' }))).toBe(
      'cannot add VIP 10.0.0.1/24 to eth1: ENODEV (no such device): interface eth1 does not exist: create it or correct the configuration',
    );
    expect(ioErrorLine({ op: 'advert', ifname: 'eth0', dst: '224.0.0.18' }, new Error('Network is unreachable'))).toBe(
      'cannot send adverts on eth0 to 224.0.0.18: ENETUNREACH (network is unreachable): eth0 is down or there is no route to 224.0.0.18: check "ip link show eth0" and "ip route get 224.0.0.18"',
    );
    expect(ioErrorLine({ op: 'vip', vip: '10.0.0.1/24', device: 'eth1' }, Object.assign(new Error('add'), { code: 'ERANGE' }))).toMatch(/: the label is longer than the kernel allows \(15 bytes\): shorten it$/);
  });

  it('anything else still gets a line with where to look; malformed errors never throw', () => {
    const op = { op: 'advert', ifname: 'eth0', dst: '224.0.0.18' } as const;
    expect(ioErrorLine(op, new Error('weird'))).toBe('cannot send adverts on eth0 to 224.0.0.18: weird: check the interface (ip -4 addr show dev eth0) and the kernel log (dmesg)');
    for (const bad of [undefined, null, 42, 'text', {}, { code: 7, message: {} }]) expect(typeof ioErrorLine(op, bad)).toBe('string');
  });
});
