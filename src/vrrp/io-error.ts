// One line for an instance's failed I/O: what failed, the kernel's error and
// the fix, e.g. "cannot add VIP 10.0.0.1/24 to eth1: EPERM (operation not
// permitted): vipd needs CAP_NET_ADMIN — run as root or under the shipped unit".
// Pure: the error object in, a string out.

import { getSystemErrorMap } from 'node:util';

/** The operation that failed, with what names it. */
export type IoOp =
  | { op: 'socket'; ifname: string }
  | { op: 'advert'; ifname: string; dst: string }
  | { op: 'vip'; vip: string; device: string }
  | { op: 'arp'; vip: string; device: string };

const UNDER_UNIT = 'run as root or under the shipped unit';

/** glibc's strerror texts: raw-socket reports errors by message only. */
const BY_MESSAGE = new Map<string, string>([
  ['operation not permitted', 'EPERM'],
  ['permission denied', 'EACCES'],
  ['no such device', 'ENODEV'],
  ['no such device or address', 'ENXIO'],
  ['network is down', 'ENETDOWN'],
  ['network is unreachable', 'ENETUNREACH'],
  ['no route to host', 'EHOSTUNREACH'],
  ['invalid argument', 'EINVAL'],
  ['no buffer space available', 'ENOBUFS'],
  ['message too long', 'EMSGSIZE'],
  ['cannot assign requested address', 'EADDRNOTAVAIL'],
  ['numerical result out of range', 'ERANGE'],
  ['address family not supported by protocol', 'EAFNOSUPPORT'],
]);

let descriptions: Map<string, string> | undefined;

function describeCode(code: string): string | undefined {
  descriptions ??= new Map([...getSystemErrorMap().values()].map(([name, text]) => [name, text]));
  return descriptions.get(code);
}

/** The errno name of an error: its `code`, or found from its strerror message. */
export function errnoCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
  const msg = typeof e?.message === 'string' ? e.message : typeof err === 'string' ? err : '';
  return BY_MESSAGE.get(msg.trim().replace(/\.$/, '').toLowerCase());
}

/** "EPERM (operation not permitted)", with the kernel's extended ACK if it gave one. */
function errorText(err: unknown): string {
  const code = errnoCode(err);
  const extAck = (err as { extAck?: unknown } | null)?.extAck;
  const kernel = typeof extAck === 'string' && extAck ? `: ${extAck.replace(/\.$/, '')}` : '';
  if (!code) return String((err as { message?: unknown } | null)?.message ?? err);
  return `${code} (${describeCode(code) ?? 'error'}${kernel})`;
}

function what(o: IoOp): string {
  switch (o.op) {
    case 'socket':
      return `cannot open the VRRP socket on ${o.ifname}`;
    case 'advert':
      return `cannot send adverts on ${o.ifname} to ${o.dst}`;
    case 'vip':
      return `cannot add VIP ${o.vip} to ${o.device}`;
    case 'arp':
      return `cannot announce VIP ${o.vip} on ${o.device} (gratuitous ARP)`;
  }
}

function device(o: IoOp): string {
  return o.op === 'socket' || o.op === 'advert' ? o.ifname : o.device;
}

function fix(o: IoOp, code: string | undefined, extAck: string): string {
  const dev = device(o);
  switch (code) {
    case 'EPERM':
      if (o.op === 'vip') return `vipd needs CAP_NET_ADMIN — ${UNDER_UNIT}`;
      if (o.op === 'advert') return 'a firewall rule (nftables/iptables OUTPUT) drops VRRP, IP protocol 112: allow it';
      return `vipd needs CAP_NET_RAW — ${UNDER_UNIT}`;
    case 'EACCES':
      if (o.op === 'advert') return `a prohibit route or a firewall rule rejects it: check "ip route get ${o.dst}" and the OUTPUT rules`;
      return `vipd needs ${o.op === 'vip' ? 'CAP_NET_ADMIN' : 'CAP_NET_RAW'} — ${UNDER_UNIT}`;
    case 'ENETUNREACH':
      // What the kernel answers for a send on an interface that is down, too.
      if (o.op === 'advert') return `${dev} is down or there is no route to ${o.dst}: check "ip link show ${dev}" and "ip route get ${o.dst}"`;
      return `${dev} is down or has no route: check "ip link show ${dev}"`;
    case 'EHOSTUNREACH':
      return o.op === 'advert'
        ? `no route to ${o.dst} on ${dev}: check "ip route get ${o.dst}" (an unreachable or blackhole route?)`
        : `no route on ${dev}: check its addresses and routes`;
    case 'ENETDOWN':
    case 'ENXIO':
      return `${dev} is down: bring it up (ip link set ${dev} up)`;
    case 'ENODEV':
      return `interface ${dev} does not exist: create it or correct the configuration`;
    case 'EINVAL':
      if (/scope/i.test(extAck))
        return `${dev} has another address in the same subnet with a different scope: remove it or give the VIP another prefix (ip -4 addr show dev ${dev})`;
      break;
    case 'ERANGE':
      if (o.op === 'vip') return 'the label is longer than the kernel allows (15 bytes): shorten it';
      break;
    case 'ENOBUFS':
      if (o.op === 'vip') return `${dev} has no IPv4 configuration (an MTU below 68?): fix the interface`;
      break;
    case 'EMSGSIZE':
      return `the advert is larger than the MTU of ${dev}: fewer VIPs per instance or a larger MTU`;
  }
  return `check the interface (ip -4 addr show dev ${dev}) and the kernel log (dmesg)`;
}

/** The whole line: what failed, the error, the fix. */
export function ioErrorLine(o: IoOp, err: unknown): string {
  const extAck = (err as { extAck?: unknown } | null)?.extAck;
  return `${what(o)}: ${errorText(err)}: ${fix(o, errnoCode(err), typeof extAck === 'string' ? extAck : '')}`;
}
