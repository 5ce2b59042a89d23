// The capabilities vipd needs, read from /proc/self/status (CapEff), and the
// one-line warning for each that is missing. vipd still starts without them:
// its instances go to FAULT with the reason, which is better than a crash loop.

import { readFileSync } from 'node:fs';

export type Cap = 'CAP_NET_ADMIN' | 'CAP_NET_RAW';

const BIT: Record<Cap, bigint> = { CAP_NET_ADMIN: 12n, CAP_NET_RAW: 13n };

const NEEDED_FOR: Record<Cap, string> = {
  CAP_NET_RAW: 'VRRP adverts, ICMP health checks and gratuitous ARP (raw and packet sockets) will fail',
  CAP_NET_ADMIN: 'adding VIPs and programming IPVS will fail',
};

/** The effective capability mask of a /proc/PID/status text; undefined if it has none or it is malformed. */
export function parseCapEff(status: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(status);
  return m?.[1] !== undefined ? BigInt(`0x${m[1]}`) : undefined;
}

export function hasCapIn(mask: bigint, cap: Cap): boolean {
  return ((mask >> BIT[cap]) & 1n) === 1n;
}

/** The capabilities of this process; undefined when /proc cannot tell (then nothing is assumed missing). */
export function readCapEff(file = '/proc/self/status'): bigint | undefined {
  try {
    return parseCapEff(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** One line per missing capability: which, what needs it, the fix. */
export function missingCapWarnings(mask: bigint | undefined): { cap: Cap; line: string }[] {
  if (mask === undefined) return [];
  return (['CAP_NET_RAW', 'CAP_NET_ADMIN'] as const)
    .filter((cap) => !hasCapIn(mask, cap))
    .map((cap) => ({ cap, line: `vipd runs without ${cap}: ${NEEDED_FOR[cap]} — run as root or under the shipped unit` }));
}
