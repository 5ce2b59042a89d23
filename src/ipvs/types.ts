// The IPVS table as vipd sees it: services (identity + settings) and their
// destinations (real servers). Identity is kept apart from settings and
// counters, so a diff can tell "the same service, edited" from "another one".

export type Family = 'inet' | 'inet6';
export type Protocol = 'tcp' | 'udp' | 'sctp';
export type Forwarding = 'nat' | 'dr' | 'tunnel';
export type TunnelType = 'ipip' | 'gue' | 'gre';

/** What names a virtual service: protocol + address + port, or a firewall mark. */
export type ServiceKey =
  | { family: Family; protocol: Protocol; address: string; port: number; fwmark?: undefined }
  | { family: Family; fwmark: number; protocol?: undefined; address?: undefined; port?: undefined };

export interface ServiceSettings {
  scheduler: string;
  /** Scheduler flags: sh-fallback, sh-port (also mh-fallback, mh-port: the same bits). */
  schedFlags: { fallback: boolean; port: boolean };
  /** Persistence timeout in seconds; 0 = not persistent. */
  persistence: number;
  /** Persistence netmask: IPv4 dotted quad or IPv6 prefix length. */
  netmask: string;
  onePacket: boolean;
  /** Persistence engine (e.g. "sip"); undefined = none. */
  pe?: string;
}

export interface Service extends ServiceSettings {
  key: ServiceKey;
}

export interface DestKey {
  address: string;
  port: number;
  family?: Family;
}

export interface DestSettings {
  forwarding: Forwarding;
  weight: number;
  /** Upper and lower connection thresholds; 0 = none. */
  upperThreshold: number;
  lowerThreshold: number;
  /** Tunnel forwarding: IPIP (default), or GUE (with its UDP port) / GRE, whose checksum is off unless asked (as ipvsadm). */
  tunnel?: { type: TunnelType; port?: number; checksum?: 'csum' | 'remcsum' };
}

export interface Dest extends DestSettings {
  key: DestKey;
}

export interface Stats {
  connections: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  cps: number;
  ppsIn: number;
  ppsOut: number;
  bpsIn: number;
  bpsOut: number;
}

export interface ServiceEntry extends Service {
  stats?: Stats;
}

export interface DestEntry extends Dest {
  activeConns: number;
  inactiveConns: number;
  persistentConns: number;
  stats?: Stats;
}

export interface Timeouts {
  /** Seconds; 0 = leave unchanged when setting. */
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface SyncDaemon {
  state: 'master' | 'backup';
  interface: string;
  syncId: number;
  maxLen?: number;
  group?: string;
  port?: number;
  ttl?: number;
}

export function serviceName(k: ServiceKey): string {
  if (k.fwmark !== undefined) return `FWM ${k.fwmark}${k.family === 'inet6' ? ' IPv6' : ''}`;
  const addr = k.family === 'inet6' ? `[${k.address}]` : k.address;
  return `${k.protocol.toUpperCase()} ${addr}:${k.port}`;
}

export function destName(k: DestKey): string {
  return k.address.includes(':') ? `[${k.address}]:${k.port}` : `${k.address}:${k.port}`;
}

const ids = new WeakMap<ServiceKey, string>();

/**
 * A service's identity as a string. Remembered per key object (keys are never
 * changed in place): a reconcile asks for the same key's id once per real server,
 * and the same string each time is also a Map key whose hash is already known.
 */
export function serviceId(k: ServiceKey): string {
  let id = ids.get(k);
  if (id === undefined) ids.set(k, (id = serviceIdOf(k)));
  return id;
}

/** serviceId() made afresh, not remembered: for a key seen once (a dump's, 1,000 per reconcile, which a WeakMap would only fill). */
export function serviceIdOf(k: ServiceKey): string {
  return k.fwmark !== undefined ? `fwm/${k.family}/${k.fwmark}` : `${k.protocol}/${k.address}/${k.port}`;
}

export function destId(k: DestKey): string {
  return `${k.address}/${k.port}`;
}
