// An Octavia load balancer, as its API's fully populated create body describes
// it (`openstack loadbalancer create` with listeners, each with its default pool,
// members and health monitor; `{loadbalancer: {...}}` or the object itself),
// -> vipd's virtual_servers: one per listener. Octavia's words are vipd's where
// they mean the same (scheduler, session_persistence, admin_state_up,
// connection_limit, health monitor keys); what an L4 director cannot do is
// reported with the nearest L4 equivalent. Identity and state fields (ids,
// names, descriptions, statuses, timestamps, subnets and networks) carry no
// behaviour and are passed over.

import { Ctx, where } from '../keepalived/context.js';
import { render, type Translation } from '../render.js';
import { type Path, Spec, SpecError } from './spec.js';

type Obj = Record<string, unknown>;

/** Fields that name or describe an object, or report its state: no behaviour to translate. */
const IDENTITY = new Set([
  'id', 'name', 'description', 'project_id', 'tenant_id', 'tags', 'provisioning_status', 'operating_status', 'created_at', 'updated_at',
  'provider', 'flavor_id', 'availability_zone', 'vip_subnet_id', 'vip_network_id', 'vip_port_id', 'vip_qos_policy_id', 'subnet_id',
  'loadbalancers', 'listeners_ids', 'pool_id', 'listener_id', 'loadbalancer_id', 'healthmonitor_id', 'default_pool_id',
]);

/** Octavia's protocols and what an L4 director makes of them. */
const L7: Record<string, string> = {
  TERMINATED_HTTPS: 'terminating TLS needs a proxy holding the certificate; nearest L4: protocol HTTPS passed through to members that hold it',
  PROXY: 'the PROXY protocol header is written by a proxy; nearest L4: TCP (members see the client address with direct routing or NAT anyway)',
  PROXYV2: 'the PROXY protocol header is written by a proxy; nearest L4: TCP (members see the client address with direct routing or NAT anyway)',
  PROMETHEUS: "a metrics listener is the amphora's own; vipd's metrics: {listen: ...} is its equivalent",
};
/** Octavia's monitor types -> vipd's: UDP-CONNECT (a datagram, passing unless an ICMP error comes back) is keepalived's UDP_CHECK. */
const MONITORS: Record<string, string> = { HTTP: 'HTTP', HTTPS: 'HTTPS', PING: 'PING', TCP: 'TCP', 'UDP-CONNECT': 'UDP' };
const MONITOR_WHY: Record<string, string> = {
  'TLS-HELLO': 'a TLS handshake check; nearest: type TCP (connects) or HTTPS (a full request)',
  SCTP: 'vipd has no SCTP check; nearest: PING',
};

class Octavia {
  readonly ctx = new Ctx();
  readonly services: Record<string, Obj> = {};

  constructor(readonly spec: Spec) {}

  /** Reports every key of the object at path that no handler took (identity fields excepted). */
  private rest(path: Path, taken: string[], what: string): void {
    for (const k of this.spec.keys(path)) if (!taken.includes(k) && !IDENTITY.has(k)) this.ctx.leftOut(this.spec.word([...path, k]), `vipd has no equivalent for the Octavia ${what} key "${k}"`);
  }

  private out = (path: Path, why: string) => this.ctx.leftOut(this.spec.word(path), why);
  private note = (path: Path, why: string) => this.ctx.note(this.spec.word(path), why);

  loadbalancer(lb: Path): void {
    if (!this.spec.keys(lb).length) throw new SpecError(`${this.spec.file}: not an Octavia load balancer description: expected {loadbalancer: {vip_address, listeners: [...]}}`);
    this.rest(lb, ['vip_address', 'listeners', 'admin_state_up', 'pools'], 'load balancer');
    const vip = this.spec.get([...lb, 'vip_address']);
    if (typeof vip !== 'string') this.out(lb.length ? lb : ['listeners'], 'no vip_address: Octavia lets Neutron choose it, vipd needs the address; add vip_address');
    if (this.spec.has([...lb, 'pools'])) this.note([...lb, 'pools'], 'pools are read through their listeners (default_pool); a pool no listener uses has no virtual server');
    const lbUp = this.spec.get([...lb, 'admin_state_up']) !== false;
    for (let i = 0; i < this.spec.count([...lb, 'listeners']); i++) this.listener([...lb, 'listeners', i], typeof vip === 'string' ? vip : undefined, lbUp);
    if (this.spec.count([...lb, 'listeners']) === 0) this.out(lb.length ? lb : ['listeners'], 'no listeners: nothing to serve');
    this.note(lb.length ? lb : ['listeners'], "the VIP is not held by this file: add a vrrp_instance with it (or import the amphora's keepalived.conf); forwarding is NAT, so the members' replies must route back through the director");
  }

  private listener(l: Path, vip: string | undefined, lbUp: boolean): void {
    this.rest(l, ['protocol', 'protocol_port', 'connection_limit', 'admin_state_up', 'default_pool', 'timeout_client_data', 'timeout_member_connect', 'timeout_member_data', 'timeout_tcp_inspect', 'allowed_cidrs', 'insert_headers', 'l7policies', 'default_tls_container_ref', 'sni_container_refs'], 'listener');
    for (const k of ['timeout_client_data', 'timeout_member_connect', 'timeout_member_data', 'timeout_tcp_inspect'])
      if (this.spec.has([...l, k])) this.out([...l, k], "haproxy's per-listener timeout; IPVS has the kernel's connection timeouts for all services (ipvs.timeouts: tcp, tcp_fin, udp)");
    if (this.spec.has([...l, 'allowed_cidrs'])) this.out([...l, 'allowed_cidrs'], 'a source filter is a firewall rule (nftables) in front of the director; vipd does not write it');
    for (const k of ['insert_headers', 'l7policies', 'default_tls_container_ref', 'sni_container_refs']) if (this.spec.has([...l, k])) this.out([...l, k], 'HTTP / TLS processing needs a proxy; an L4 director forwards packets');
    const protocol = String(this.spec.get([...l, 'protocol']) ?? 'TCP');
    if (L7[protocol]) return this.out([...l, 'protocol'], `${protocol}: ${L7[protocol]}`);
    const port = this.spec.get([...l, 'protocol_port']);
    if (typeof port !== 'number') return this.out(l, 'no protocol_port');
    if (vip === undefined) return;
    const vs: Obj = { address: vip, port, protocol };
    const limit = this.spec.get([...l, 'connection_limit']);
    if (typeof limit === 'number' && limit > 0) vs.connection_limit = limit;
    const name = String(this.spec.get([...l, 'name']) ?? `listener-${port}`).replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || `listener-${port}`;
    const pool = [...l, 'default_pool'];
    if (!this.spec.has(pool)) {
      if (this.spec.has([...l, 'default_pool_id'])) this.out([...l, 'default_pool_id'], 'a pool referred to by id: put it inline as default_pool');
      else this.out(l, 'no default_pool: the listener has no members to send to');
      return;
    }
    const up = lbUp && this.spec.get([...l, 'admin_state_up']) !== false && this.spec.get([...pool, 'admin_state_up']) !== false;
    if (!up) vs.admin_state_up = false;
    this.pool(pool, vs, port);
    this.services[name in this.services ? `${name}-${port}` : name] = vs;
    this.ctx.comment(['virtual_servers', name], ` Octavia listener ${protocol} ${port} from ${where(this.spec.pos(l))}`);
  }

  private pool(p: Path, vs: Obj, listenerPort: number): void {
    this.rest(p, ['protocol', 'lb_algorithm', 'session_persistence', 'members', 'healthmonitor', 'admin_state_up', 'tls_enabled', 'tls_container_ref', 'ca_tls_container_ref', 'crl_container_ref', 'alpn_protocols', 'tls_ciphers', 'tls_versions'], 'pool');
    for (const k of ['tls_enabled', 'tls_container_ref', 'ca_tls_container_ref', 'crl_container_ref', 'alpn_protocols', 'tls_ciphers', 'tls_versions'])
      if (this.spec.has([...p, k])) this.out([...p, k], "TLS to the members is the proxy's; an L4 director passes the client's TLS through");
    const proto = String(this.spec.get([...p, 'protocol']) ?? vs.protocol);
    if (L7[proto]) this.out([...p, 'protocol'], `${proto}: ${L7[proto]}`);
    const alg = this.spec.get([...p, 'lb_algorithm']);
    if (alg !== undefined) vs.scheduler = alg; // vipd reads Octavia's names (ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP, SOURCE_IP_PORT)
    const sp = this.spec.get([...p, 'session_persistence']) as Obj | null | undefined;
    if (sp && typeof sp === 'object') {
      if (sp.type === 'SOURCE_IP') {
        const m: Obj = { type: 'SOURCE_IP' };
        if (typeof sp.persistence_timeout === 'number') m.persistence_timeout = sp.persistence_timeout;
        if (typeof sp.persistence_granularity === 'string') m.persistence_granularity = sp.persistence_granularity;
        vs.session_persistence = m;
      } else this.out([...p, 'session_persistence', 'type'], `${String(sp.type)} persistence reads HTTP cookies, which an L4 director does not see; the nearest L4 equivalent is SOURCE_IP`);
    }
    const members: Obj[] = [];
    const monitorPorts = new Set<unknown>();
    let sorry: Obj | undefined;
    for (let i = 0; i < this.spec.count([...p, 'members']); i++) {
      const m = [...p, 'members', i];
      this.rest(m, ['address', 'protocol_port', 'weight', 'admin_state_up', 'backup', 'monitor_port', 'monitor_address'], 'member');
      const rs: Obj = { address: this.spec.get([...m, 'address']) };
      const port = this.spec.get([...m, 'protocol_port']);
      if (typeof port === 'number' && port !== listenerPort) rs.port = port;
      else if (typeof port !== 'number') rs.port = listenerPort;
      const w = this.spec.get([...m, 'weight']);
      if (typeof w === 'number') rs.weight = w;
      if (this.spec.get([...m, 'admin_state_up']) === false) rs.admin_state_up = false;
      monitorPorts.add(this.spec.get([...m, 'monitor_port']));
      if (this.spec.has([...m, 'monitor_address'])) this.out([...m, 'monitor_address'], 'vipd checks the member\'s own address');
      if (this.spec.get([...m, 'backup']) === true) {
        if (sorry) this.out([...m, 'backup'], 'vipd has one sorry server per virtual server: this second backup member is left out');
        else (sorry = { address: rs.address, ...(rs.port !== undefined ? { port: rs.port } : {}) }), this.note([...m, 'backup'], 'a backup member is keepalived\'s sorry_server: it serves alone while no other member is healthy');
        continue;
      }
      members.push(rs);
    }
    vs.real_servers = members;
    if (sorry) vs.sorry_server = sorry;
    this.monitor([...p, 'healthmonitor'], vs, monitorPorts);
  }

  private monitor(h: Path, vs: Obj, monitorPorts: Set<unknown>): void {
    if (!this.spec.has(h)) return;
    this.rest(h, ['type', 'delay', 'timeout', 'max_retries', 'max_retries_down', 'http_method', 'url_path', 'expected_codes', 'domain_name', 'http_version', 'admin_state_up'], 'health monitor');
    const type = String(this.spec.get([...h, 'type']));
    if (!MONITORS[type]) return this.out([...h, 'type'], MONITOR_WHY[type] ?? `"${type}" is not an Octavia health monitor type`);
    if (this.spec.get([...h, 'admin_state_up']) === false) return this.note([...h, 'admin_state_up'], 'a disabled health monitor: the members are not checked');
    const hc: Obj = { type: MONITORS[type] };
    for (const k of ['delay', 'timeout', 'max_retries', 'max_retries_down', 'http_method', 'url_path', 'expected_codes', 'domain_name']) {
      const v = this.spec.get([...h, k]);
      if (v !== undefined && v !== null) hc[k] = k === 'expected_codes' ? String(v) : v;
    }
    if (type === 'HTTP' || type === 'HTTPS') {
      // Octavia's http_version (1.0 or 1.1, default 1.0) is keepalived's http_protocol; vipd's own default is 1.1.
      const v = this.spec.get([...h, 'http_version']) ?? 1.0;
      if (Number(v) === 1 || Number(v) === 1.1) hc.http_protocol = Number(v) === 1 ? '1.0' : '1.1';
      else this.out([...h, 'http_version'], `http_version ${String(v)}: Octavia takes 1.0 or 1.1`);
    } else if (this.spec.has([...h, 'http_version'])) this.note([...h, 'http_version'], `a ${type} monitor sends no HTTP request: http_version does not apply`);
    const mp = [...monitorPorts];
    if (mp.length === 1 && mp[0] !== undefined) hc.port = mp[0];
    else if (mp.some((x) => x !== undefined)) this.out([...h, 'type'], 'the members have different monitor_port: vipd checks every member of a pool on one port (health_check.port)');
    vs.health_check = hc;
  }
}

/** Octavia's load balancer description -> vipd.yaml (virtual_servers). */
export function translateOctavia(spec: Spec): Translation {
  const o = new Octavia(spec);
  o.loadbalancer(spec.keys([]).includes('loadbalancer') ? ['loadbalancer'] : []);
  return render({ virtual_servers: o.services }, o.ctx, spec.file);
}
