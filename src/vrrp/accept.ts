// RFC 5798 Accept_Mode for one instance (keepalived's accept / no_accept):
// while it is master with accept mode off and is not the address owner
// (priority 255), packets to its VIPs are dropped by the host's firewall
// (src/net/nft.ts). Taken before the VIPs are added, released with them.
// A firewall that refuses is an error line naming the fix; the instance stays
// MASTER (as keepalived does, and as with a refused virtual route).

import type { VrrpInstanceConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { AcceptFirewall } from '../net/nft.js';
import { heldAddresses } from './vips.js';

/** The addresses a master of `cfg` must not accept packets for: none in accept mode or as the owner. Pure. */
export function blockedAddresses(cfg: Pick<VrrpInstanceConfig, 'accept' | 'priority' | 'virtualIps' | 'excludedIps'>): string[] {
  if (cfg.accept || cfg.priority === 255) return [];
  return heldAddresses(cfg).map((v) => v.address);
}

export class AcceptGuard {
  /** What this instance has the firewall drop now. */
  blocked: string[] = [];

  constructor(
    private readonly fw: AcceptFirewall | undefined,
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  /** Master (or a reload while master): the firewall drops exactly what `cfg` needs. */
  hold(cfg: VrrpInstanceConfig): void {
    const want = blockedAddresses(cfg);
    if (want.join() === this.blocked.join()) return;
    if (want.length === 0) return this.release();
    if (!this.fw) {
      this.log.error({ event: 'accept-mode' }, `${this.name}: no_accept cannot be enforced: no firewall in this process`);
      return;
    }
    try {
      this.fw.block(this.name, want);
      this.blocked = want;
      this.log.info({ event: 'accept-mode', blocked: want }, `${this.name}: no_accept: dropping packets to ${want.join(', ')} while master (nftables table inet vipd)`);
    } catch (err) {
      this.log.error({ event: 'accept-mode', err: (err as Error).message }, `${this.name}: no_accept not enforced, the VIPs accept traffic: ${(err as Error).message}`);
    }
  }

  /** Leaving MASTER (after the VIPs are removed): the drop rules go. */
  release(): void {
    if (this.blocked.length === 0 || !this.fw) return;
    try {
      this.fw.unblock(this.name);
      this.blocked = [];
    } catch (err) {
      this.log.error({ event: 'accept-mode', err: (err as Error).message }, `${this.name}: cannot remove the no_accept rules: ${(err as Error).message}; remove them with: nft delete table inet vipd`);
    }
  }
}
