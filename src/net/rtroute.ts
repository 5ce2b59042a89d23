// Routes and policy rules over rtnetlink (rtnetlink(7): RTM_NEWROUTE /
// RTM_DELROUTE, RTM_NEWRULE / RTM_DELRULE) for keepalived's virtual_routes and
// virtual_rules. The encoders are pure; RtRoutes sends them.

import { familyOf, inetAddrBytes, inetAddrText } from './inet.js';
import { attrStr, attrU32, AttrView, encodeAttrs, NetlinkError, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, type Attr, type NlMessage } from './netlink.js';
import { NetlinkSocket } from './netlink-socket.js';

const NETLINK_ROUTE = 0;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const RTM_NEWRULE = 32;
const RTM_DELRULE = 33;
const AF = { inet: 2, inet6: 10 } as const;
const RTPROT_BOOT = 3;
/** RTA_* */
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;
/** FRA_* */
const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;

export const ROUTE_TYPES = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8, throw: 9 } as const;
export const SCOPES = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
/** Rule actions: FR_ACT_TO_TBL and the terminal ones. */
export const RULE_ACTIONS = { table: 1, blackhole: 6, unreachable: 7, prohibit: 8 } as const;
/** The kernel's named tables (rt_tables). */
export const TABLES: Record<string, number> = { default: 253, main: 254, local: 255 };

export interface Prefix {
  address: string;
  prefix: number;
}

export interface RouteSpec {
  family: 'inet' | 'inet6';
  type: keyof typeof ROUTE_TYPES;
  to: Prefix;
  via?: string;
  /** The interface (its index is looked up when the route is added). */
  dev?: string;
  src?: string;
  table: number;
  metric?: number;
  scope?: keyof typeof SCOPES;
  /** rtm_protocol, who installed the route (default 3, "boot", as ip-route's). */
  protocol?: number;
}

export interface RuleSpec {
  family: 'inet' | 'inet6';
  action: keyof typeof RULE_ACTIONS;
  from?: Prefix;
  to?: Prefix;
  table: number;
  priority?: number;
  fwmark?: number;
  fwmask?: number;
  iif?: string;
  oif?: string;
}

/** struct rtmsg (12 bytes) + attributes. The scope defaults as ip-route's: link for a route through a device without a gateway, host for local, else universe. */
/** An address as rtnetlink wants it: exactly 4 or 16 bytes (a rule's FRA_SRC of any other length is EINVAL). */
const addrBytes = (ip: string): Buffer => (familyOf(ip) === 'inet' ? inetAddrBytes(ip).subarray(0, 4) : inetAddrBytes(ip));

export function encodeRoute(r: RouteSpec, ifindex: number | undefined): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt8(AF[r.family], 0);
  head.writeUInt8(r.to.prefix, 1);
  head.writeUInt8(r.table < 256 ? r.table : 252, 4); // RT_TABLE_COMPAT for big ids, the real one in RTA_TABLE
  head.writeUInt8(r.protocol ?? RTPROT_BOOT, 5);
  const unicast = r.type === 'unicast';
  head.writeUInt8(r.scope !== undefined ? SCOPES[r.scope] : unicast && r.via === undefined && r.dev !== undefined ? SCOPES.link : SCOPES.global, 6);
  head.writeUInt8(ROUTE_TYPES[r.type], 7);
  const attrs: Attr[] = [{ type: RTA_DST, value: addrBytes(r.to.address) }, attrU32(RTA_TABLE, r.table)];
  if (r.via !== undefined) attrs.push({ type: RTA_GATEWAY, value: addrBytes(r.via) });
  if (ifindex !== undefined) attrs.push(attrU32(RTA_OIF, ifindex));
  if (r.src !== undefined) attrs.push({ type: RTA_PREFSRC, value: addrBytes(r.src) });
  if (r.metric !== undefined) attrs.push(attrU32(RTA_PRIORITY, r.metric));
  return Buffer.concat([head, encodeAttrs(attrs)]);
}

/** struct fib_rule_hdr (12 bytes) + attributes. */
export function encodeRule(r: RuleSpec): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt8(AF[r.family], 0);
  head.writeUInt8(r.to?.prefix ?? 0, 1);
  head.writeUInt8(r.from?.prefix ?? 0, 2);
  head.writeUInt8(r.table < 256 ? r.table : 0, 4);
  head.writeUInt8(RULE_ACTIONS[r.action], 7);
  const attrs: Attr[] = [];
  if (r.to) attrs.push({ type: FRA_DST, value: addrBytes(r.to.address) });
  if (r.from) attrs.push({ type: FRA_SRC, value: addrBytes(r.from.address) });
  if (r.action === 'table') attrs.push(attrU32(FRA_TABLE, r.table));
  if (r.priority !== undefined) attrs.push(attrU32(FRA_PRIORITY, r.priority));
  if (r.fwmark !== undefined) attrs.push(attrU32(FRA_FWMARK, r.fwmark));
  if (r.fwmask !== undefined) attrs.push(attrU32(FRA_FWMASK, r.fwmask));
  if (r.iif !== undefined) attrs.push(attrStr(FRA_IIFNAME, r.iif));
  if (r.oif !== undefined) attrs.push(attrStr(FRA_OIFNAME, r.oif));
  return Buffer.concat([head, encodeAttrs(attrs)]);
}

export function routeText(r: RouteSpec): string {
  const parts = [r.type === 'unicast' ? '' : r.type, `${r.to.address}/${r.to.prefix}`];
  if (r.via !== undefined) parts.push(`via ${r.via}`);
  if (r.dev !== undefined) parts.push(`dev ${r.dev}`);
  if (r.src !== undefined) parts.push(`src ${r.src}`);
  if (r.table !== TABLES.main) parts.push(`table ${r.table}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  if (r.protocol !== undefined) parts.push(`proto ${r.protocol}`);
  return parts.filter(Boolean).join(' ');
}

export function ruleText(r: RuleSpec): string {
  const parts = [r.from ? `from ${r.from.address}/${r.from.prefix}` : 'from all'];
  if (r.to) parts.push(`to ${r.to.address}/${r.to.prefix}`);
  if (r.fwmark !== undefined) parts.push(`fwmark ${r.fwmark}${r.fwmask !== undefined ? `/${r.fwmask}` : ''}`);
  if (r.iif !== undefined) parts.push(`iif ${r.iif}`);
  if (r.oif !== undefined) parts.push(`oif ${r.oif}`);
  parts.push(r.action === 'table' ? `table ${r.table}` : r.action);
  if (r.priority !== undefined) parts.push(`priority ${r.priority}`);
  return parts.join(' ');
}

/** The family of a route or rule from its addresses (inet when it has none). */
export function specFamily(addresses: readonly (string | undefined)[]): 'inet' | 'inet6' {
  const a = addresses.find((x) => x !== undefined);
  return a === undefined ? 'inet' : familyOf(a);
}

/**
 * A route of a dump (struct rtmsg + attributes) as a RouteSpec: family, type,
 * destination, table (RTA_TABLE, else rtm_table) and protocol; undefined for a
 * message that is not a route or a type vipd does not name.
 */
export function decodeRoute(m: NlMessage): RouteSpec | undefined {
  if (m.type !== RTM_NEWROUTE || m.payload.length < 12) return undefined;
  const p = m.payload;
  const family = p[0] === AF.inet ? 'inet' : p[0] === AF.inet6 ? 'inet6' : undefined;
  const type = (Object.keys(ROUTE_TYPES) as (keyof typeof ROUTE_TYPES)[]).find((k) => ROUTE_TYPES[k] === p[7]);
  if (!family || !type) return undefined;
  const a = new AttrView(p, 12);
  const dst = a.bytes(RTA_DST);
  const address = dst ? inetAddrText(dst, family) : family === 'inet' ? '0.0.0.0' : '::';
  return { family, type, to: { address, prefix: p[1]! }, table: a.has(RTA_TABLE) ? a.u32(RTA_TABLE) : p[4]!, protocol: p[5]! };
}

export class RtRoutes {
  private readonly sock = new NetlinkSocket(NETLINK_ROUTE);

  /** Adds a route; false if it is already there. */
  addRoute(r: RouteSpec, ifindex: number | undefined): boolean {
    return this.add(RTM_NEWROUTE, encodeRoute(r, ifindex), `add route ${routeText(r)}`);
  }

  /** Removes a route; false if it is not there. */
  delRoute(r: RouteSpec, ifindex: number | undefined): boolean {
    return this.del(RTM_DELROUTE, encodeRoute(r, ifindex), `delete route ${routeText(r)}`, ['ESRCH', 'ENOENT', 'ENODEV']);
  }

  /** Every route of the family, in every table (RTM_GETROUTE dump). */
  routes(family: 'inet' | 'inet6'): RouteSpec[] {
    const req = Buffer.alloc(12);
    req.writeUInt8(AF[family], 0);
    return this.sock
      .request(RTM_GETROUTE, NLM_F_DUMP, req, 'list routes')
      .map(decodeRoute)
      .filter((r): r is RouteSpec => r !== undefined);
  }

  addRule(r: RuleSpec): boolean {
    return this.add(RTM_NEWRULE, encodeRule(r), `add rule ${ruleText(r)}`);
  }

  delRule(r: RuleSpec): boolean {
    return this.del(RTM_DELRULE, encodeRule(r), `delete rule ${ruleText(r)}`, ['ENOENT', 'ESRCH']);
  }

  close(): void {
    this.sock.close();
  }

  private add(type: number, payload: Buffer, what: string): boolean {
    try {
      this.sock.request(type, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, payload, what);
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'EEXIST') return false;
      throw err;
    }
  }

  private del(type: number, payload: Buffer, what: string, absent: string[]): boolean {
    try {
      this.sock.request(type, NLM_F_ACK, payload, what);
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && absent.includes(err.code)) return false;
      throw err;
    }
  }
}
