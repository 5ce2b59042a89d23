// The addresses a master holds: adds its virtual IPs to their interfaces,
// announces them with bursts of gratuitous ARP, and removes them. It knows which
// VIPs it added itself (only their removal failing is news) and reports a VIP
// or ARP the kernel refuses to its instance, which goes to FAULT.

import type { GarpConfig, VirtualIp } from '../config/types.js';
import type { Logger } from '../log.js';
import type { IoOp } from './io-error.js';
import { turn } from '../slices.js';

/** What an instance needs from the host: addresses, links, ARP. Implemented over src/net (hostnet.ts). */
export interface HostNet {
  /** Index and MAC of a link, or undefined if it does not exist. */
  link(name: string): { index: number; mac: string } | undefined;
  /** Add an address to its device with its options; false if it was already there. */
  addAddress(v: VirtualIp): boolean;
  /** Remove an address from its device; false if it was not there. */
  delAddress(v: VirtualIp): boolean;
  sendGratuitousArp(ifindex: number, mac: string, ip: string): void;
}

/** Every address an instance holds while master: the advertised VIPs, then virtual_ipaddress_excluded. */
export const heldAddresses = (c: { virtualIps: VirtualIp[]; excludedIps?: VirtualIp[] | undefined }): VirtualIp[] => (c.excludedIps ? [...c.virtualIps, ...c.excludedIps] : c.virtualIps);

/** A VIP and everything it is added with: a reload that changes an option re-adds it. */
const vipKey = (v: VirtualIp): string => `${v.device} ${v.address}/${v.prefix} ${JSON.stringify({ ...v, noTrack: undefined })}`;

export class VipHolder {
  /** Whether the VIPs are meant to be held (set before they are added, cleared before they are removed). */
  held = false;
  garpsSent = 0;
  /** VIPs this process added: only their removal failing is worth an error. */
  private readonly added = new Set<string>();

  constructor(
    private readonly net: HostNet,
    private readonly log: Logger,
    /** A VIP or ARP the kernel refused; `report` says whether the instance cares (only a master's do). */
    private readonly failed: (op: IoOp, err: unknown) => void,
  ) {}

  /** Takes the VIPs: false at the first one the kernel refuses (reported; the rest are not tried). */
  take(vips: readonly VirtualIp[]): boolean {
    this.held = true;
    return vips.every((v) => this.add(v));
  }

  /**
   * Lets the VIPs go now, or once `after` settles (a resignation advert on its way)
   * unless taken again meanwhile; `also` runs with the removal (what else the master held).
   */
  release(vips: readonly VirtualIp[], after?: Promise<void>, also?: () => void): Promise<void> {
    this.held = false;
    const go = (): void => {
      for (const v of vips) this.remove(v);
      also?.();
    };
    if (!after) {
      go();
      return Promise.resolve();
    }
    return after
      .catch(() => undefined)
      .then(() => {
        if (!this.held) go();
      });
  }

  /** A reload while held: removes the VIPs no longer configured, adds the new ones; false if one was refused. Returns the added ones. */
  change(old: readonly VirtualIp[], now: readonly VirtualIp[]): { ok: boolean; added: VirtualIp[] } {
    const newKeys = new Set(now.map(vipKey));
    const oldKeys = new Set(old.map(vipKey));
    for (const v of old) if (!newKeys.has(vipKey(v))) this.remove(v);
    const added = now.filter((v) => !oldKeys.has(vipKey(v)));
    return { ok: added.every((v) => this.add(v)), added };
  }

  /**
   * One burst: `count` rounds over every VIP, after `after` (the advert goes out
   * first); gratuitous ARPs `intervalMs` apart, neighbour advertisements
   * `gnaIntervalMs` apart (keepalived's garp_interval / gna_interval: the spacing
   * of the messages themselves). Stops when the VIPs are released or one is refused.
   */
  async announce(vips: readonly VirtualIp[], count: number, spacing: Pick<GarpConfig, 'intervalMs' | 'gnaIntervalMs'>, after: Promise<void>, reason: string): Promise<void> {
    await after.catch(() => undefined);
    // Yield to timers due now (an advert often is: the second burst lands on the advert grid).
    await turn();
    const links = new Map<string, { index: number; mac: string } | undefined>();
    let first = true;
    for (let i = 0; i < count; i++) {
      for (const v of vips) {
        const gap = v.address.includes(':') ? spacing.gnaIntervalMs : spacing.intervalMs;
        if (!first && gap > 0) await new Promise((r) => setTimeout(r, gap));
        first = false;
        if (!this.held) return;
        if (!links.has(v.device)) links.set(v.device, this.net.link(v.device));
        const link = links.get(v.device);
        if (!link) continue;
        try {
          this.net.sendGratuitousArp(link.index, link.mac, v.address);
          this.garpsSent++;
        } catch (err) {
          this.failed({ op: 'arp', vip: `${v.address}/${v.prefix}`, device: v.device }, err);
          return;
        }
      }
    }
    this.log.debug({ reason, vips: vips.length, count }, `gratuitous ARP burst: ${reason}`);
  }

  /** False if the VIP could not be added (then reported). */
  private add(v: VirtualIp): boolean {
    const vip = `${v.address}/${v.prefix}`;
    try {
      if (this.net.addAddress(v)) this.log.debug({ vip, device: v.device }, `added ${vip} to ${v.device}`);
      this.added.add(vipKey(v));
      return true;
    } catch (err) {
      this.failed({ op: 'vip', vip, device: v.device }, err);
      return false;
    }
  }

  private remove(v: VirtualIp): void {
    const key = vipKey(v);
    try {
      this.net.delAddress(v);
      this.added.delete(key);
    } catch (err) {
      // Removing a VIP we never added fails with EPERM without CAP_NET_ADMIN at every BACKUP or FAULT entry: not news.
      const fields = { vip: v.address, device: v.device, err: (err as Error).message };
      const line = `cannot remove VIP ${v.address}/${v.prefix} from ${v.device}: ${(err as Error).message}`;
      if (this.added.has(key)) this.log.error(fields, line);
      else this.log.debug(fields, line);
    }
  }
}
