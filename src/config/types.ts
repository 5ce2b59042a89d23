// The validated, typed configuration. Every default is filled in by the loader:
// nothing downstream needs to know what the YAML left out.
//
// Units: durations are milliseconds unless the name says otherwise; the VRRP
// advertisement interval is kept in centiseconds (the v3 wire unit) so that
// 0.1 s is exact.

import type { RouteSpec, RuleSpec } from '../net/rtroute.js';

export type VrrpVersion = 2 | 3;

/**
 * How the VRRPv3 checksum over IPv4 is computed on send:
 * - 'pseudo-header': over an IPv4 pseudo-header + message (keepalived, FRR, tcpdump);
 * - 'message': over the VRRP message only (RFC 9568 text, some router vendors).
 * Both forms are always accepted on receive.
 */
export type V3ChecksumMode = 'pseudo-header' | 'message';

export interface VirtualIp {
  /** Dotted quad (IPv4). */
  address: string;
  prefix: number;
  /** Interface to add the address to; defaults to the instance interface. */
  device: string;
  /** Optional address label (ip addr ... label eth0:vip). */
  label?: string;
  /** keepalived's no_track: deleting it by hand does not take a master back to BACKUP. */
  noTrack?: boolean;
}

export interface TrackInterface {
  name: string;
  /**
   * 0: the instance goes to FAULT while this link is down (keepalived default).
   * Non-zero: the priority changes by this amount while the link is down
   * (keepalived: a negative weight lowers priority when down; we apply the weight
   * when the link is down, sign included, so `weight: -20` lowers it by 20).
   */
  weight: number;
}

export interface NotifyScripts {
  master?: string;
  backup?: string;
  fault?: string;
  stop?: string;
  /** Called on every transition, after the state-specific script (keepalived `notify`). */
  any?: string;
}

export interface GarpConfig {
  /** Gratuitous ARPs per burst (keepalived garp_master_repeat, default 5). */
  count: number;
  /** Spacing between the ARPs of one burst (keepalived garp_interval, default 0). */
  intervalMs: number;
  /** Delay of the second burst after becoming master; 0 = no second burst (garp_master_delay, default 5 s). */
  repeatDelayMs: number;
  /** Re-announce period while master; 0 = off (garp_master_refresh, default 0). */
  refreshMs: number;
}

export interface VrrpInstanceConfig {
  name: string;
  interface: string;
  vrid: number;
  /** 1..255; 255 = address owner. */
  priority: number;
  /** Advertisement interval in centiseconds (v2: a multiple of 100). */
  advertIntervalCs: number;
  version: VrrpVersion;
  v3Checksum: V3ChecksumMode;
  virtualIps: VirtualIp[];
  /** Source address for adverts; defaults to the interface's primary IPv4 address at run time. */
  unicastSrcIp?: string;
  /** Unicast peers; empty = multicast to 224.0.0.18. */
  unicastPeers: string[];
  /** v2 simple password (first 8 bytes are used on the wire); undefined = no authentication. */
  authPass?: string;
  preempt: boolean;
  preemptDelayMs: number;
  /**
   * A master that hears a lower-priority advert answers at once with its own
   * (RFC 9568; keepalived's default too). false = keepalived's `lower_prio_no_advert`.
   */
  answerLowerPriority: boolean;
  trackInterfaces: TrackInterface[];
  notify: NotifyScripts;
  garp: GarpConfig;
  /** keepalived's virtual_routes: added when this instance becomes MASTER, removed when it leaves. */
  virtualRoutes: HeldRoute<RouteSpec>[];
  /** keepalived's virtual_rules: policy rules that follow the master the same way. */
  virtualRules: HeldRoute<RuleSpec>[];
}

/** A route or rule as configured: the spec, the line it was written as, and keepalived's no_track. */
export interface HeldRoute<T> {
  spec: T;
  text: string;
  noTrack: boolean;
}

export interface SyncGroupConfig {
  name: string;
  /** Names of VRRP instances that move together. */
  instances: string[];
  notify: NotifyScripts;
}

export interface GlobalConfig {
  /** Names this host in logs and status (keepalived router_id); defaults to the hostname. */
  routerId: string;
  /** Root-only unix socket `vipd status` talks to. */
  controlSocket: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** Kill a notify script that runs longer than this. */
  scriptTimeoutMs: number;
  /** keepalived's enable_script_security: refuse a script a non-root user could change (default false, as keepalived). */
  enableScriptSecurity: boolean;
}

/** `metrics:` — the Prometheus endpoint; absent: off. */
export interface MetricsConfig {
  /** As written, e.g. "127.0.0.1:9650" or "[::1]:9650". */
  listen: string;
  host: string;
  port: number;
}

export interface Config {
  /** Absolute path of the file this came from. */
  file: string;
  global: GlobalConfig;
  /** The Prometheus endpoint (src/metrics/); undefined: off. */
  metrics?: MetricsConfig | undefined;
  instances: VrrpInstanceConfig[];
  syncGroups: SyncGroupConfig[];
  virtualServers: VirtualServerConfig[];
  ipvs: IpvsConfig;
}

// ---- IPVS (virtual servers) ----------------------------------------------------

export type VsProtocol = 'tcp' | 'udp' | 'sctp';
export type VsForwarding = 'nat' | 'dr' | 'tunnel';

export interface RealServerConfig {
  address: string;
  port: number;
  weight: number;
  /** Upper connection threshold (keepalived uthreshold, Senlin connection_limit); 0 = none. */
  upperThreshold: number;
  lowerThreshold: number;
  forwarding: VsForwarding;
  tunnel?: { type: 'ipip' | 'gue' | 'gre'; port?: number; checksum?: 'csum' | 'remcsum' };
}

/** A health check as configured (Octavia health monitor; keepalived checker). Durations in ms. */
export interface HealthCheckConfig {
  type: 'tcp' | 'http' | 'https' | 'ping' | 'script';
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** Check this port instead of the real server's (keepalived connect_port). */
  port?: number;
  send?: string;
  expect?: string;
  method: string;
  path: string;
  host?: string;
  expectedCodes: string;
  bodyRegex?: string;
  sni?: string;
  caFile?: string;
  verify: boolean;
  command?: string[];
}

export interface VirtualServerConfig {
  name: string;
  family: 'inet' | 'inet6';
  /** Set for address+port services; undefined for fwmark services. */
  protocol?: VsProtocol;
  address?: string;
  port?: number;
  fwmark?: number;
  scheduler: string;
  schedFlags: { fallback: boolean; port: boolean };
  /** Seconds; 0 = not persistent. */
  persistence: number;
  netmask: string;
  onePacket: boolean;
  realServers: RealServerConfig[];
  healthCheck?: HealthCheckConfig;
  /** A failed real server stays with weight 0 instead of leaving the table. */
  inhibitOnFailure: boolean;
  /** Real servers start down until their first `rise` passes. */
  alpha: boolean;
  /** Minimum total weight of healthy real servers; below it the sorry server takes the traffic. */
  quorum: number;
  hysteresis: number;
  sorryServer?: { address: string; port: number; forwarding: VsForwarding };
  /** On stop: remove this service from the kernel (keepalived omega). */
  omega: boolean;
  /** Scripts: notify_up/notify_down get `VS ADDRESS PORT UP|DOWN`, quorum_up/quorum_down get `VS UP|DOWN`. */
  notify: { up?: string; down?: string; quorumUp?: string; quorumDown?: string };
}

export interface IpvsConfig {
  /** tcp / tcpfin / udp connection timeouts in seconds; undefined = leave the kernel's. */
  timeouts?: { tcp: number; tcpFin: number; udp: number };
  /** Connection sync daemon: master on the VRRP master, backup on the backup. */
  syncDaemon?: { interface: string; syncId: number; instance: string };
  /** Real servers leaving the config: weight 0 for this long, then deleted. 0 = at once. */
  drainMs: number;
  /** Remove the services vipd owns when it stops (default: keep them, connections survive a restart). */
  flushOnStop: boolean;
  /** A full reconcile with a dump this often (level-triggered: hand edits are repaired); 0 = only at start and reload. */
  resyncMs: number;
}
