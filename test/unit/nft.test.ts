// no_accept's nftables table (src/net/nft.ts): the script that makes table inet
// vipd exactly the union of every instance's blocked addresses, written only
// when it changes. The kernel's view is in test/netns/accept.test.ts.

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NftFirewall, nftScript } from '../../src/net/nft.js';

describe('nftables script', () => {
  it('both families, sorted; IPv6 neighbour discovery passes; the table is replaced in one transaction', () => {
    const s = nftScript(['10.0.0.2', '2001:db8::1', '10.0.0.1']);
    expect(s.split('\n').slice(0, 5)).toEqual([
      'add table inet vipd',
      'delete table inet vipd',
      'table inet vipd {',
      '  set vips4 { type ipv4_addr; elements = { 10.0.0.1, 10.0.0.2 }; }',
      '  set vips6 { type ipv6_addr; elements = { 2001:db8::1 }; }',
    ]);
    expect(s).toContain('    type filter hook input priority -1; policy accept;\n    ip6 daddr @vips6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n    ip daddr @vips4 drop\n    ip6 daddr @vips6 drop\n');
    expect(s).toContain('    ip saddr @vips4 drop\n');
  });

  it('nothing to block: the table is removed', () => {
    expect(nftScript([])).toBe('add table inet vipd\ndelete table inet vipd\n');
  });
});

describe('the firewall of the process', () => {
  it('blocks the union of the instances, each replacing its own; the last unblock removes the table; an unchanged set is not rewritten', () => {
    const runs: string[] = [];
    const fw = new NftFirewall((s) => void runs.push(s));
    fw.block('VI_1', ['10.0.0.1']);
    fw.block('VI_2', ['10.0.0.2', '10.0.0.1']);
    fw.block('VI_2', ['10.0.0.2', '10.0.0.1']);
    expect(fw.blocked()).toEqual(['10.0.0.1', '10.0.0.2']);
    fw.unblock('VI_1');
    expect(fw.blocked()).toEqual(['10.0.0.1', '10.0.0.2']);
    fw.unblock('VI_2');
    fw.unblock('VI_3');
    expect(runs).toEqual([nftScript(['10.0.0.1']), nftScript(['10.0.0.1', '10.0.0.2']), nftScript([])]);
  });

  it('a refusal is thrown with the reason, and the next change writes the whole table again', () => {
    let fail = true;
    const runs: string[] = [];
    const fw = new NftFirewall((s) => {
      if (fail) throw new Error('nft refused');
      runs.push(s);
    });
    expect(() => fw.block('VI_1', ['10.0.0.1'])).toThrow('nft refused');
    fail = false;
    fw.block('VI_1', ['10.0.0.1']);
    expect(runs).toEqual([nftScript(['10.0.0.1'])]);
  });

  it('its marker exists while a table is held: a start looks for a killed run\'s table only then', () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'vipd-nft-')), 'vipd-nft-table');
    const runs: string[] = [];
    const fw = new NftFirewall((s) => void runs.push(s), marker);
    fw.reset();
    expect(runs).toEqual([]); // no marker: nothing of ours can be left, nft is not run
    fw.block('VI_1', ['192.0.2.1']);
    expect(existsSync(marker)).toBe(true);
    fw.unblock('VI_1');
    expect(existsSync(marker)).toBe(false);
    fw.block('VI_1', ['192.0.2.1']); // then killed: the marker stays
    const next = new NftFirewall((s) => void runs.push(s), marker);
    runs.length = 0;
    next.reset(); // (scripts/setup.sh installs nftables: reset runs nft only where it exists)
    expect(runs).toEqual([nftScript([])]);
    expect(existsSync(marker)).toBe(false);
  });
});
