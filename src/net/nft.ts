// RFC 5798 Accept_Mode off (keepalived's no_accept) over nftables: vipd's own
// table `inet vipd`, two sets of the addresses a master holds without owning
// them, and rules in the input and output hooks that drop packets to (and from)
// them — except IPv6 neighbour solicitations and advertisements, without which
// nobody could reach the address's owner-to-be at the link layer. The table is
// written whole in one `nft -f` transaction each time the sets change (atomic,
// level-triggered: a table someone deleted comes back with the next change) and
// deleted when nothing is blocked; no other table is ever touched.

import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { accessSync, constants } from 'node:fs';
import { isIPv6 } from 'node:net';

export const NFT_TABLE = 'vipd';
const SEARCH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The nft command: from PATH, else the usual sbin directories; undefined if nftables is not installed. */
export function findNft(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(':').filter(Boolean), ...SEARCH]) {
    const f = `${dir}/nft`;
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const NFT_MISSING = 'no_accept needs nftables (the nft command was not found in PATH, /usr/sbin or /sbin): install the nftables package (apt install nftables), or remove no_accept';

/** The script that makes `table inet vipd` exactly this (or removes it when both sets are empty). Pure. */
export function nftScript(addresses: Iterable<string>): string {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const a of addresses) (isIPv6(a) ? v6 : v4).push(a);
  // "add" then "delete": removes the table whether or not it exists, in the same transaction.
  const lines = [`add table inet ${NFT_TABLE}`, `delete table inet ${NFT_TABLE}`];
  if (v4.length + v6.length === 0) return `${lines.join('\n')}\n`;
  const elements = (list: string[]) => (list.length > 0 ? ` elements = { ${[...list].sort().join(', ')} };` : '');
  const nd = 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept';
  lines.push(
    `table inet ${NFT_TABLE} {`,
    `  set vips4 { type ipv4_addr;${elements(v4)} }`,
    `  set vips6 { type ipv6_addr;${elements(v6)} }`,
    '  chain in {',
    '    type filter hook input priority -1; policy accept;',
    `    ip6 daddr @vips6 ${nd}`,
    '    ip daddr @vips4 drop',
    '    ip6 daddr @vips6 drop',
    '  }',
    '  chain out {',
    '    type filter hook output priority -1; policy accept;',
    `    ip6 saddr @vips6 ${nd}`,
    '    ip saddr @vips4 drop',
    '    ip6 saddr @vips6 drop',
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/** What the instances need: block a master's addresses, let them go. */
export interface AcceptFirewall {
  /** Drop packets to `addresses` on behalf of `owner` (an instance), replacing what it blocked before. Throws with the fix if nftables refuses. */
  block(owner: string, addresses: readonly string[]): void;
  /** Stop dropping `owner`'s addresses (the table goes with the last ones). Throws if nftables refuses. */
  unblock(owner: string): void;
}

/** The firewall of this process: the union of every instance's addresses, written through `nft`. */
export class NftFirewall implements AcceptFirewall {
  private readonly owners = new Map<string, readonly string[]>();
  private written = '';

  /**
   * `marker`: a file that exists while this host holds a table of vipd's (written with
   * the first blocked address, removed with the last), so that a start looks for a
   * killed run's table only when there can be one — not a spawn of nft at every start.
   */
  constructor(
    private readonly run: (script: string) => void = runNft,
    private readonly marker?: string,
  ) {}

  block(owner: string, addresses: readonly string[]): void {
    this.owners.set(owner, [...addresses]);
    this.sync();
  }

  unblock(owner: string): void {
    if (!this.owners.delete(owner)) return;
    this.sync();
  }

  /** Removes a table left by a run that was killed (it would drop traffic a new config accepts). Quiet without nftables, or without a marker left. */
  reset(): void {
    this.owners.clear();
    if (this.marker !== undefined && !existsSync(this.marker)) return;
    if (findNft() !== undefined) this.write(nftScript([]));
  }

  /** Every address currently dropped. */
  blocked(): string[] {
    return [...new Set([...this.owners.values()].flat())].sort();
  }

  private sync(): void {
    const script = nftScript(this.blocked());
    if (script === this.written) return;
    this.write(script);
  }

  private write(script: string): void {
    this.written = '';
    const holds = this.blocked().length > 0;
    if (holds && this.marker !== undefined) writeFileSync(this.marker, '');
    this.run(script);
    this.written = script;
    if (!holds && this.marker !== undefined) rmSync(this.marker, { force: true });
  }
}

/** Runs one nft transaction (synchronously: the rules are in place before the VIPs are added). */
function runNft(script: string): void {
  const nft = findNft();
  if (nft === undefined) throw new Error(NFT_MISSING);
  try {
    execFileSync(nft, ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'], timeout: 5000 });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`nft refused vipd's table inet ${NFT_TABLE}: ${e.stderr?.toString().trim().split('\n')[0] || e.message}`);
  }
}
