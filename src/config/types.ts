// The validated, typed configuration. Every default is filled in by the loader:
// nothing downstream needs to know what the YAML left out.
//
// Units: durations are milliseconds unless the name says otherwise; the VRRP
// advertisement interval is kept in centiseconds (the v3 wire unit) so that
// 0.1 s is exact.

import type { CheckerOptions, HealthCheckUrl } from '../health/types.js';

export type { HealthCheckUrl };
import type { RouteSpec, RuleSpec } from '../net/rtroute.js';
import type { AddrSpec } from '../net/rtnl.js';

export type VrrpVersion = 2 | 3;

/**
 * How the VRRPv3 checksum over IPv4 is computed on send:
 * - 'pseudo-header': over an IPv4 pseudo-header + message (keepalived, FRR, tcpdump);
 * - 'message': over the VRRP message only (RFC 9568 text, some router vendors).
 * Both forms are always accepted on receive.
 */
export type V3ChecksumMode = 'pseudo-header' | 'message';

/** A virtual address: where it goes and what it is added with (AddrSpec: address, prefix, label and keepalived's `ip addr add` options, vip-options.ts). */
export interface VirtualIp extends AddrSpec {
  /** Interface to add the address to; defaults to the instance interface. */
  device: string;
  /** keepalived's no_track: deleting it by hand does not take a master back to BACKUP. */
  noTrack?: boolean;
}

export interface TrackInterface {
  name: string;
  /**
   * keepalived's rule: 0 = FAULT while the link is down (the default); a positive
   * weight is added to the priority while the link is up; a negative one is added
   * (so, subtracted) while it is down. The result stays within 1..254.
   */
  weight: number;
  /** keepalived's `reverse`: the adjustment's direction flipped (weight 0: FAULT while up). */
  reverse: boolean;
}

/** A `track_script` / `track_file` entry: the tracker's name and the weight in force (the entry's, else the tracker's). */
export interface TrackRef {
  name: string;
  weight: number;
  reverse: boolean;
}

/** keepalived's `vrrp_script`: a command run every interval; its exit status (0 = OK) tracked with rise/fall. */
export interface VrrpScriptConfig {
  name: string;
  /** argv, run without a shell; argv[0] absolute (a bare name is resolved through PATH at load). */
  command: string[];
  intervalMs: number;
  /** Killed with its process group after this long; counts as a failure (default: the interval). */
  timeoutMs: number;
  /** Default weight of the instances tracking it (0 = FAULT while failed). */
  weight: number;
  reverse: boolean;
  rise: number;
  fall: number;
  /** Run as this user (resolved at load); undefined: as vipd (root). */
  user?: { name: string; uid: number; gid: number };
  /** Start in the failed state (keepalived init_fail). */
  initFail: boolean;
}

/** keepalived's vrrp_track_process param_match: how the configured parameters compare with a process's. */
export type ParamMatch = 'none' | 'exact' | 'partial' | 'initial';

/** keepalived's `vrrp_track_process`: the number of matching processes, up while within quorum..quorumMax. */
export interface TrackProcessConfig {
  name: string;
  /** The process name (its comm), or with fullCommand argv[0] exactly as the process was started. */
  process: string;
  /** Parameters to compare (argv[1..]); empty: none configured. */
  params: string[];
  /** 'none': parameters are not looked at; 'exact' (the default when params are given), 'partial', 'initial'. */
  paramMatch: ParamMatch;
  /** Match /proc/PID/cmdline's argv[0] (and parameters) instead of the process name (comm). */
  fullCommand: boolean;
  /** Default weight of the instances tracking it (keepalived's parser: 0 = FAULT while down). */
  weight: number;
  reverse: boolean;
  quorum: number;
  /** Inclusive; keepalived's default is no maximum. */
  quorumMax: number;
  /** Quorum gained by a tracked process forking counts after this long (0: at once). */
  forkDelayMs: number;
  /** Quorum lost by an exit counts after this long (0: at once). */
  terminateDelayMs: number;
}

/** keepalived's `track_file` (vrrp_track_file): a number read from a file, times the weight. */
export interface TrackFileConfig {
  name: string;
  file: string;
  /** Default weight of the instances tracking it (keepalived: 1). 0: a non-zero value is a failure. */
  weight: number;
  reverse: boolean;
  /** Write this value at start if the file is missing (or always, with overwrite). */
  init?: { value: number; overwrite: boolean };
}

/** A script to run: its command line split into words (argv[0] an absolute path), and whom it runs as. */
export interface ScriptCommand {
  argv: string[];
  /** The user (and group) it runs as: its own `user`/`group`, else global.script_user; absent = vipd's own. */
  runAs?: { user: string; uid: number; gid: number };
}

export interface NotifyScripts {
  /** Run with their own arguments only (keepalived appends nothing to notify_master/backup/fault/stop). */
  master?: ScriptCommand;
  backup?: ScriptCommand;
  fault?: ScriptCommand;
  stop?: ScriptCommand;
  /** Called on every transition, after the state-specific script, with TYPE NAME STATE PRIORITY appended (keepalived `notify`). */
  any?: ScriptCommand;
}

/**
 * Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6) of a
 * master, with keepalived's names and defaults (global.vrrp_garp_* set them for
 * every instance; vrrp_min_garp changes the defaults).
 */
export interface GarpConfig {
  /** Messages per VIP in a burst on becoming master and in the second burst (garp_master_repeat, default 5). */
  count: number;
  /** Spacing between the gratuitous ARPs (garp_interval, default 0). */
  intervalMs: number;
  /** Spacing between the unsolicited neighbour advertisements (gna_interval, default 0). */
  gnaIntervalMs: number;
  /** Delay of the second burst after becoming master; 0 = no second burst (garp_master_delay, default 5 s). */
  repeatDelayMs: number;
  /** Re-announce period while master; 0 = off (garp_master_refresh, default 0). */
  refreshMs: number;
  /** Messages per VIP in each refresh (garp_master_refresh_repeat, default 1). */
  refreshCount: number;
  /** Messages per VIP when a lower-priority advert is heard as master; 0 = none (garp_lower_prio_repeat, default garp_master_repeat's global default). */
  lowerPrioCount: number;
  /** Delay of a second such burst; 0 = none (garp_lower_prio_delay, default garp_master_delay's global default). */
  lowerPrioDelayMs: number;
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
  /** 'inet6': the VIPs are IPv6, VRRPv3 over IPv6 (ff02::12, link-local source). Absent: IPv4. */
  family?: 'inet6';
  /** keepalived's virtual_ipaddress_excluded: held with the VIPs (either family), not carried in the adverts. */
  excludedIps?: VirtualIp[];
  /** Source address for adverts; defaults to the interface's primary IPv4 address at run time. */
  unicastSrcIp?: string;
  /** Unicast peers; empty = multicast to 224.0.0.18. */
  unicastPeers: string[];
  /** IP TTL of the unicast adverts this instance sends (keepalived unicast_ttl, 0..255, default 255). */
  unicastTtl: number;
  /**
   * keepalived's check_unicast_src: drop a unicast advert whose source is not a
   * unicast_peer. keepalived's default is off; vipd's is on (global.vrrp_check_unicast_src).
   */
  checkUnicastSrc: boolean;
  /** v2 simple password (first 8 bytes are used on the wire); undefined = no authentication. */
  authPass?: string;
  preempt: boolean;
  preemptDelayMs: number;
  /**
   * A master that hears a lower-priority advert answers at once with its own
   * (RFC 9568; keepalived's default too). false = keepalived's `lower_prio_no_advert`.
   */
  answerLowerPriority: boolean;
  /**
   * RFC 5798 Accept_Mode (keepalived's accept / no_accept): false = while master,
   * packets to the VIPs are dropped (nftables, table inet vipd) unless this
   * instance is their owner (priority 255). Default true, as keepalived without vrrp_strict.
   */
  accept: boolean;
  trackInterfaces: TrackInterface[];
  trackScripts: TrackRef[];
  trackFiles: TrackRef[];
  trackProcesses: TrackRef[];
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
  /** Tracked by every member (keepalived's sync-group track_script). */
  trackScripts: TrackRef[];
  trackFiles: TrackRef[];
  trackProcesses: TrackRef[];
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
  /** keepalived's script_user: whom scripts run as by default (keepalived_script if that user exists; else vipd's own user). */
  scriptUser?: { user: string; uid: number; gid: number };
  /** keepalived's notify_fifo and vrrp_notify_fifo: FIFOs that get a line per VRRP transition. */
  notifyFifos: string[];
  /** keepalived's vrrp_check_unicast_src: the default of every instance's check_unicast_src (vipd: true). */
  vrrpCheckUnicastSrc: boolean;
  /** keepalived's vrrp_garp_* and vrrp_min_garp: every instance's GARP defaults. */
  garp: GarpConfig;
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
  /** keepalived's vrrp_script blocks, by name (only those some instance or group tracks are run). */
  vrrpScripts: VrrpScriptConfig[];
  /** keepalived's track_file blocks (vrrp_track_files), by name. */
  trackFiles: TrackFileConfig[];
  /** keepalived's vrrp_track_process blocks (vrrp_track_processes), by name. */
  trackProcesses: TrackProcessConfig[];
  virtualServers: VirtualServerConfig[];
  ipvs: IpvsConfig;
  /** How announced VIPs reach the routing daemon (the ECMP tier); defaults when the section is absent. */
  announce: AnnounceConfig;
}

/** `announce:` — the ECMP tier's VIPs as routes in a kernel table a routing daemon (BIRD, FRR) exports. */
export interface AnnounceConfig {
  /** The kernel routing table vipd installs each announced VIP into, as a /32 or /128 (default 200). */
  table: number;
  /** On SIGTERM: withdrawn first, then this long before VRRP and IPVS stop (the routers move the flows away). */
  drainMs: number;
  /** vrrp_scripts that say this host is healthy: every VIP is withdrawn while one of them fails. */
  trackScripts: string[];
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
  /** This real server's own checkers (keepalived's, per real server): replace the virtual server's. */
  healthChecks?: HealthCheckConfig[];
  /** Octavia's member admin_state_up: false = out of the table and unchecked. */
  adminUp: boolean;
}

/** One service of a virtual_server_group (keepalived's): an address and port, or a fwmark. */
export type GroupMember = { address: string; port: number; fwmark?: undefined } | { fwmark: number; address?: undefined; port?: undefined };

/** A health check as configured (Octavia health monitor; keepalived checker). Durations in ms. */
export interface HealthCheckConfig extends CheckerOptions {
  type: 'tcp' | 'http' | 'https' | 'ping' | 'script' | 'udp' | 'dns' | 'smtp' | 'file';
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** Check this port instead of the real server's (keepalived connect_port, Octavia port). */
  port?: number;
  /** Check this address instead of the real server's (keepalived connect_ip). */
  address?: string;
  send?: string;
  expect?: string;
  method: string;
  path: string;
  host?: string;
  expectedCodes: string;
  bodyRegex?: string;
  /** HTTP/HTTPS: several URLs (keepalived's url blocks); when set, path/expectedCodes are each URL's. */
  urls?: HealthCheckUrl[];
  sni?: string;
  caFile?: string;
  verify: boolean;
  command?: string[];
  /** FILE: the vrrp_track_files entry (its file and weight resolved into file, fileWeight, fileReverse at load). */
  trackFile?: string;
}

export interface VirtualServerConfig {
  name: string;
  family: 'inet' | 'inet6';
  /** Set for address+port services and groups; undefined for fwmark services. */
  protocol?: VsProtocol;
  /** A virtual_server_group: one IPVS service per member, sharing the real servers, checks and quorum. */
  group?: { name: string; members: GroupMember[] };
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
  /** health_check (one, Octavia's) or health_checks (several, keepalived's): a real server is up while all pass. */
  healthChecks: HealthCheckConfig[];
  /** A failed real server stays with weight 0 instead of leaving the table. */
  inhibitOnFailure: boolean;
  /** Real servers start down until their first `rise` passes. */
  alpha: boolean;
  /** Minimum total weight of healthy real servers; below it the sorry server takes the traffic. */
  quorum: number;
  hysteresis: number;
  sorryServer?: { address: string; port: number; forwarding: VsForwarding };
  /** keepalived sorry_server_inhibit: the sorry server stays in the table at weight 0 while quorum holds. */
  sorryServerInhibit: boolean;
  /** keepalived omega: at stop, notify_down for each healthy real server and quorum_down if quorum held. */
  omega: boolean;
  /** On stop: remove this virtual server's services from the kernel (the rest of the table stays). */
  removeOnStop: boolean;
  /** Octavia's pool / listener admin_state_up: false = not in the table, unchecked. */
  adminUp: boolean;
  /** Octavia's listener connection_limit: split over the real servers in the table as upper thresholds; 0 = none. */
  connectionLimit: number;
  /** The ECMP tier: the address is announced (a route in announce.table) while this virtual server has quorum. */
  announce: boolean;
  /** Scripts: notify_up/notify_down get `VS ADDRESS PORT UP|DOWN`, quorum_up/quorum_down get `VS UP|DOWN`. */
  notify: { up?: string; down?: string; quorumUp?: string; quorumDown?: string };
}

export interface IpvsConfig {
  /** tcp / tcpfin / udp connection timeouts in seconds; undefined = leave the kernel's. */
  timeouts?: { tcp: number; tcpFin: number; udp: number };
  /** Connection sync daemon: master on the VRRP master, backup on the backup; without an instance (the ECMP tier) both at once. */
  syncDaemon?: { interface: string; syncId: number; instance?: string };
  /** Real servers leaving the config: weight 0 for this long, then deleted. 0 = at once. */
  drainMs: number;
  /** Remove the services vipd owns when it stops (default: keep them, connections survive a restart). */
  flushOnStop: boolean;
  /** A full reconcile with a dump this often (level-triggered: hand edits are repaired); 0 = only at start and reload. */
  resyncMs: number;
}
