// One entry of a virtual server's `real_servers` (and its sorry server's
// forwarding rules): keepalived's real_server with Octavia's member keys.

import { isIPv4, isIPv6 } from 'node:net';
import type { Node } from 'yaml';
import { healthChecks } from './health-check.js';
import { bool, type Fields, num, oneOf, scalarValue, str } from './reader.js';
import type { RealServerConfig, VsForwarding } from './types.js';

export const PORT = num(0, 65535, { integer: true });
export const UINT31 = num(0, 0x7fffffff, { integer: true }); // thresholds, hysteresis
export const FORWARDING = oneOf(['nat', 'dr', 'tunnel'] as const);
export const IP = str('an IPv4 or IPv6 address', (v) => (isIPv4(v) || isIPv6(v) ? undefined : `"${v}" is not an IP address`));

/** What a real server inherits from its virtual server. */
export interface RsDefaults {
  address: string | undefined;
  /** The port a real server gets when it names none (the service's; 0 for fwmarks and groups of several ports). */
  port: number;
  forwarding: VsForwarding;
  /** The service's port when it has exactly one (address services, groups of one port): direct routing and tunnels cannot change it. */
  fixedPort: number | undefined;
}

/** One entry of `real_servers`; `service` gives the defaults (port, forwarding) and the address family. */
export function realServer(f: Fields, n: Node, p: string, service: RsDefaults): RealServerConfig | undefined {
  const { address, port, forwarding } = service;
  const rs = f.map(n, p, 'a map {address, port, weight}');
  if (!rs) return undefined;
  rs.allowOnly(['address', 'port', 'weight', 'upper_threshold', 'connection_limit', 'lower_threshold', 'forwarding', 'tunnel', 'admin_state_up', 'health_check', 'health_checks']);
  if (!rs.has('address')) f.r.issue(n, p, 'missing "address"; valid: address: 10.0.0.2');
  const ra = f.get(rs, 'address', IP);
  if (ra !== undefined && address !== undefined && isIPv6(ra) !== isIPv6(address) && (rs.has('forwarding') ? scalarValue(rs.value('forwarding')) : forwarding) !== 'tunnel')
    f.r.issue(rs.value('address') ?? n, rs.sub('address'), `${ra} is not the same address family as the service (${address}); valid: a real server of the same family`);
  const rport = f.get(rs, 'port', PORT) ?? port;
  if (rs.has('upper_threshold') && rs.has('connection_limit'))
    f.r.issue(rs.keyNode('connection_limit'), rs.sub('connection_limit'), 'connection_limit is another name for upper_threshold; set only one');
  const upper = f.get(rs, 'upper_threshold', UINT31) ?? f.get(rs, 'connection_limit', UINT31) ?? 0;
  const lower = f.get(rs, 'lower_threshold', UINT31) ?? 0;
  if (upper > 0 && lower > upper) f.r.issue(rs.value('lower_threshold') ?? n, rs.sub('lower_threshold'), `${lower} is above upper_threshold ${upper}; valid: 0..${upper}`);
  const fwd = f.get(rs, 'forwarding', FORWARDING) ?? forwarding;
  let tunnel: RealServerConfig['tunnel'];
  if (rs.has('tunnel')) {
    const t = f.map(rs.value('tunnel') ?? n, rs.sub('tunnel'), 'a map {type: ipip|gue|gre, port, checksum}');
    if (t) {
      t.allowOnly(['type', 'port', 'checksum']);
      const type = f.get(t, 'type', oneOf(['ipip', 'gue', 'gre'] as const)) ?? 'ipip';
      const tport = f.get(t, 'port', num(1, 65535, { integer: true }));
      const checksum = f.get(t, 'checksum', oneOf(['none', 'csum', 'remcsum'] as const));
      if (type === 'gue' && tport === undefined) f.r.issue(t.node, t.sub('port'), 'a GUE tunnel needs its UDP port; valid: port: 1..65535');
      if (type !== 'gue' && t.has('port')) f.r.issue(t.keyNode('port'), t.sub('port'), `only GUE tunnels have a port, not ${type}`);
      if (type === 'ipip' && checksum !== undefined) f.r.issue(t.keyNode('checksum'), t.sub('checksum'), 'IPIP has no checksum option; valid for gue and gre');
      tunnel = { type, ...(tport !== undefined ? { port: tport } : {}), ...(checksum && checksum !== 'none' ? { checksum } : {}) };
    }
    if (fwd !== 'tunnel') f.r.issue(rs.keyNode('tunnel'), rs.sub('tunnel'), `tunnel settings need forwarding: tunnel (this real server forwards by ${fwd})`);
  }
  // ipvsadm gives a direct-routing or tunnelled real server the service's port: the packet is not rewritten.
  if (fwd !== 'nat' && rs.has('port') && rport !== (service.fixedPort ?? 0))
    f.r.issue(rs.value('port') ?? n, rs.sub('port'), `${fwd === 'dr' ? 'direct routing' : 'a tunnel'} does not change the destination port: traffic reaches this real server on ${service.fixedPort === undefined ? 'the port each packet was sent to' : `port ${service.fixedPort}`}, not ${rport}; valid: remove port (or port: ${service.fixedPort ?? 0}), and health_check.port: ${rport} to check another port`);
  const finalPort = fwd === 'nat' ? rport : (service.fixedPort ?? 0);
  // keepalived's checkers are per real server: this one's own replace the virtual server's.
  const checks = healthChecks(f, rs, finalPort);
  if (ra === undefined) return undefined;
  return {
    address: ra,
    port: finalPort,
    ...(checks ? { healthChecks: checks } : {}),
    weight: f.get(rs, 'weight', num(0, 65535, { integer: true })) ?? 1,
    upperThreshold: upper,
    lowerThreshold: lower,
    forwarding: fwd,
    ...(fwd === 'tunnel' ? { tunnel: tunnel ?? { type: 'ipip' } } : {}),
    adminUp: f.get(rs, 'admin_state_up', bool) ?? true,
  };
}
