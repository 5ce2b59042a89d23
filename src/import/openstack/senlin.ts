// Senlin's load-balancing policy (senlin.policy.loadbalance 1.x) -> one vipd
// virtual server. Senlin's units and meanings converted: health monitor `delay`
// and `timeout` are milliseconds, `max_retries` is the failures before a member
// is inactive (fall). The members are the cluster's nodes, which the policy does
// not list: give them with --member ADDRESS[:PORT][@WEIGHT].

import { Ctx, where } from '../keepalived/context.js';
import { render, type Translation } from '../render.js';
import { type Path, Spec, SpecError } from './spec.js';

type Obj = Record<string, unknown>;

const METHODS = ['ROUND_ROBIN', 'LEAST_CONNECTIONS', 'SOURCE_IP'];

export interface Member {
  address: string;
  port?: number;
  weight?: number;
}

/** "10.0.0.5", "10.0.0.5:8080", "10.0.0.5:8080@3", "[2001:db8::5]:80" -> a member, or why not. */
export function parseMember(text: string): Member | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::(\d{1,5}))?(?:@(\d{1,5}))?$/.exec(text);
  if (!m) return `"${text}" is not ADDRESS[:PORT][@WEIGHT]`;
  return { address: m[1] ?? m[2]!, ...(m[3] ? { port: Number(m[3]) } : {}), ...(m[4] ? { weight: Number(m[4]) } : {}) };
}

export function translateSenlin(spec: Spec, members: readonly Member[]): Translation {
  const ctx = new Ctx();
  const out = (path: Path, why: string) => ctx.leftOut(spec.word(path), why);
  const note = (path: Path, why: string) => ctx.note(spec.word(path), why);
  const type = spec.get(['type']);
  if (typeof type !== 'string' || !type.startsWith('senlin.policy.loadbalance')) throw new SpecError(`${spec.file}: not a Senlin load-balancing policy: expected type: senlin.policy.loadbalance`);
  const P = ['properties'];
  for (const k of spec.keys(P))
    if (!['pool', 'vip', 'health_monitor', 'lb_status_timeout', 'loadbalancer'].includes(k)) out([...P, k], `vipd has no equivalent for the Senlin property "${k}"`);
  if (spec.has([...P, 'loadbalancer'])) out([...P, 'loadbalancer'], 'an existing Octavia load balancer by id: vipd is the load balancer; describe it here instead');
  if (spec.has([...P, 'lb_status_timeout'])) note([...P, 'lb_status_timeout'], "Senlin's wait for Octavia; vipd programs the kernel at once");
  const vsName = 'senlin-lb';
  const vs: Obj = {};
  const vip = [...P, 'vip'];
  const pool = [...P, 'pool'];
  for (const k of spec.keys(vip)) if (!['address', 'protocol', 'protocol_port', 'connection_limit', 'admin_state_up', 'subnet'].includes(k)) out([...vip, k], `vipd has no equivalent for the Senlin vip property "${k}"`);
  for (const k of spec.keys(pool)) if (!['protocol', 'protocol_port', 'lb_method', 'admin_state_up', 'session_persistence', 'subnet', 'id'].includes(k)) out([...pool, k], `vipd has no equivalent for the Senlin pool property "${k}"`);
  const address = spec.get([...vip, 'address']);
  if (typeof address !== 'string') out(spec.has(vip) ? vip : P, 'no vip.address: Senlin lets Octavia choose one from vip.subnet, vipd needs the address');
  else vs.address = address;
  vs.port = spec.get([...vip, 'protocol_port']) ?? 80; // Senlin's default
  vs.protocol = spec.get([...vip, 'protocol']) ?? 'HTTP'; // Senlin's default, served as TCP passthrough
  if (vs.protocol === 'TERMINATED_HTTPS') out([...vip, 'protocol'], 'terminating TLS needs a proxy; nearest L4: HTTPS passed through');
  for (const s of [vip, pool]) if (spec.has([...s, 'subnet'])) note([...s, 'subnet'], 'Neutron subnets are not vipd\'s: the kernel routes to the members');
  const limit = spec.get([...vip, 'connection_limit']);
  if (typeof limit === 'number' && limit > 0) vs.connection_limit = limit;
  if (spec.get([...vip, 'admin_state_up']) === false || spec.get([...pool, 'admin_state_up']) === false) vs.admin_state_up = false;
  const method = spec.get([...pool, 'lb_method']);
  if (typeof method === 'string' && METHODS.includes(method)) vs.scheduler = method;
  else if (method !== undefined) out([...pool, 'lb_method'], `valid: ${METHODS.join(', ')}`);
  else vs.scheduler = 'ROUND_ROBIN'; // Senlin's default
  const sp = spec.get([...pool, 'session_persistence']) as Obj | undefined;
  if (sp && typeof sp === 'object' && sp.type !== undefined) {
    if (sp.type === 'SOURCE_IP') vs.session_persistence = 'SOURCE_IP';
    else out([...pool, 'session_persistence', 'type'], `${String(sp.type)} persistence reads HTTP cookies, which an L4 director does not see; the nearest L4 equivalent is SOURCE_IP`);
  }
  const memberPort = spec.get([...pool, 'protocol_port']) ?? 80;
  vs.real_servers = members.map((m) => ({ address: m.address, port: m.port ?? memberPort, ...(m.weight !== undefined ? { weight: m.weight } : {}) }));
  if (members.length === 0) note(spec.has(pool) ? pool : P, 'Senlin adds the cluster\'s nodes as members; this file has none: pass them with --member ADDRESS[:PORT][@WEIGHT], or list them under real_servers');
  const hm = [...P, 'health_monitor'];
  if (spec.has(hm)) {
    for (const k of spec.keys(hm)) if (!['type', 'delay', 'timeout', 'max_retries', 'admin_state_up', 'http_method', 'url_path', 'expected_codes'].includes(k)) out([...hm, k], `vipd has no equivalent for the Senlin health_monitor property "${k}"`);
    const t = spec.get([...hm, 'type']);
    if (spec.get([...hm, 'admin_state_up']) === false) note([...hm, 'admin_state_up'], 'a disabled health monitor: the members are not checked');
    else if (t !== 'PING' && t !== 'TCP' && t !== 'HTTP' && t !== 'HTTPS') out([...hm, 'type'], `"${String(t)}" is not a Senlin health monitor type (PING, TCP, HTTP, HTTPS)`);
    else {
      const ms = (k: string, def: number) => {
        const v = spec.get([...hm, k]);
        return (typeof v === 'number' ? v : def) / 1000;
      };
      const hc: Obj = { type: t, delay: ms('delay', 10_000), timeout: ms('timeout', 5_000), max_retries: 1, max_retries_down: spec.get([...hm, 'max_retries']) ?? 3 };
      for (const k of ['http_method', 'url_path', 'expected_codes']) {
        const v = spec.get([...hm, k]);
        if (v !== undefined) hc[k] = k === 'expected_codes' ? String(v) : v;
      }
      note([...hm, 'delay'], `Senlin counts delay and timeout in milliseconds: ${String(hc.delay)} s and ${String(hc.timeout)} s; its max_retries (failures before a member is inactive) is max_retries_down, and a member is back after one pass`);
      vs.health_check = hc;
    }
  }
  ctx.comment(['virtual_servers', vsName], ` Senlin load-balancing policy from ${where(spec.pos(['type']))}`);
  return render({ virtual_servers: typeof vs.address === 'string' ? { [vsName]: vs } : {} }, ctx, spec.file);
}
