// How an instance logs the adverts it drops. A peer on this VRID that speaks
// another version, password, interval or TTL is a misconfiguration that splits
// the brain (each ignores the other and both become MASTER): a warning naming
// the fix, once a minute per peer and reason. Other drops (our own adverts, a
// non-peer) are routine: debug.

import type { Logger } from '../log.js';
import type { DropReason } from './fsm-types.js';

/** What to do about a peer whose adverts this instance must drop; the reasons absent here are routine. */
const MISMATCH_FIX: Partial<Record<DropReason, string>> = {
  'version-mismatch': 'both sides must speak the same VRRP version: set version on this instance to match the peer (keepalived defaults to vrrp_version 2, vipd to 3)',
  'auth-mismatch': 'set the same authentication (auth_type and auth_pass) on both sides',
  'interval-mismatch': 'VRRPv2 peers must have the same advert_int: set it on both sides',
  ttl: 'multicast adverts must arrive with TTL 255 (RFC 5798 5.1.1.3): the peer must be on this link, not routed',
};
const DROP_WARN_EVERY_MS = 60_000;

export class DropLog {
  /** When a mismatch from a peer was last warned about (key: reason and source). */
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly name: () => string,
    private readonly now: () => number,
  ) {}

  log(reason: DropReason, detail: string, src: string): void {
    const fix = MISMATCH_FIX[reason];
    const key = `${reason} ${src}`;
    const now = this.now();
    const last = this.warned.get(key);
    if (fix === undefined || (last !== undefined && now - last < DROP_WARN_EVERY_MS)) {
      this.logger.debug({ drop: reason, detail }, `advert dropped: ${detail}`);
      return;
    }
    this.warned.set(key, now);
    this.logger.warn({ event: 'advert-mismatch', drop: reason, detail, peer: src }, `${this.name()}: adverts dropped: ${detail}; ${fix}`);
  }
}
