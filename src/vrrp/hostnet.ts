// The real host: links and addresses over rtnetlink, gratuitous ARP (IPv4) and
// unsolicited neighbour advertisements (IPv6) over AF_PACKET (both through the native addon). Queries read the kernel afresh —
// a dump costs microseconds, and a cache would only add a way to be wrong.

import { isIPv6 } from 'node:net';
import { sendGratuitousArp } from '../net/garp.js';
import { sendUnsolicitedNa } from '../net/na.js';
import { NetlinkMonitor } from '../net/netlink-socket.js';
import { IFA_F_DADFAILED, IFA_F_TENTATIVE, NETLINK_ROUTE, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK, RtNetlink, type Link } from '../net/rtnl.js';
import { RtRoutes, type RouteSpec } from '../net/rtroute.js';
import type { HostLinks, LinkState } from './router.js';
import type { HostRoutes } from './routes.js';

export function hostLinks(): HostLinks {
  const rt = new RtNetlink();
  const find = (name: string): Link | undefined => rt.links().find((l) => l.name === name);
  const indexOf = (name: string): number => {
    const l = find(name);
    if (!l) throw Object.assign(new Error(`interface ${name} does not exist`), { code: 'ENODEV' });
    return l.index;
  };
  return {
    link(name) {
      const l = find(name);
      return l ? { index: l.index, mac: l.mac } : undefined;
    },
    linkState(name): LinkState | undefined {
      const l = find(name);
      return l ? { index: l.index, usable: l.usable } : undefined;
    },
    primaryIpv4(name, exclude) {
      const l = find(name);
      if (!l) return undefined;
      const mine = rt.addresses().filter((a) => a.index === l.index && !exclude.has(a.address));
      return (mine.find((a) => !a.secondary) ?? mine[0])?.address;
    },
    hasAddress(device, address) {
      const l = find(device);
      return l !== undefined && rt.addresses(address.includes(':') ? 'inet6' : 'inet').some((a) => a.index === l.index && a.address === address);
    },
    linkLocalIpv6(name) {
      const l = find(name);
      if (!l) return undefined;
      // A tentative address (duplicate address detection running) cannot be a source yet.
      return rt
        .addresses('inet6')
        .find((a) => a.index === l.index && /^fe[89ab]/.test(a.address) && (a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) === 0)?.address;
    },
    addAddress(v) {
      return rt.addAddress(indexOf(v.device), v);
    },
    delAddress(v) {
      const l = find(v.device);
      return l ? rt.delAddress(l.index, v) : false;
    },
    sendGratuitousArp(ifindex, mac, ip) {
      if (!isIPv6(ip)) return sendGratuitousArp(ifindex, mac, ip);
      // IPv6's equivalent; the Router flag follows the interface's forwarding setting.
      const l = rt.links().find((x) => x.index === ifindex);
      sendUnsolicitedNa(ifindex, l?.name ?? '', mac, ip);
    },
    watch(onChange) {
      // Coalesce a burst of events (an interface going down withdraws routes,
      // addresses, ...) into one level-triggered refresh.
      let pending = false;
      // IPv6 addresses too: a link-local address leaving DAD becomes the IPv6 adverts' source.
      const mon = new NetlinkMonitor(NETLINK_ROUTE, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, () => {
        if (pending) return;
        pending = true;
        setImmediate(() => {
          pending = false;
          onChange();
        });
      });
      return { close: () => mon.close() };
    },
  };
}

/** Routes and rules over rtnetlink; a route's device is looked up by name each time (it may come and go). */
export function hostRoutes(): HostRoutes {
  const rt = new RtNetlink();
  const routes = new RtRoutes();
  const ifindex = (r: RouteSpec): number | undefined => {
    if (r.dev === undefined) return undefined;
    const l = rt.links().find((x) => x.name === r.dev);
    if (!l) throw Object.assign(new Error(`interface ${r.dev} does not exist`), { code: 'ENODEV' });
    return l.index;
  };
  return {
    addRoute: (r) => routes.addRoute(r, ifindex(r)),
    delRoute: (r) => {
      try {
        return routes.delRoute(r, ifindex(r));
      } catch (err) {
        if ((err as { code?: string }).code === 'ENODEV') return false;
        throw err;
      }
    },
    addRule: (r) => routes.addRule(r),
    delRule: (r) => routes.delRule(r),
  };
}
