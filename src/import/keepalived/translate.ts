// keepalived.conf statements -> vipd.yaml text (the yaml library's Document,
// with a comment naming each block's source) and the report. The top level's
// keywords are one table; each section has its own (vrrp.ts, virtual-server.ts).

import { render, type Translation } from '../render.js';
import { Ctx, type Table, walk, where } from './context.js';
import type { Stmt } from './syntax.js';
import { GLOBAL_DEFS, type Out, vrrpInstance, vrrpSyncGroup } from './vrrp.js';
import { virtualServer } from './virtual-server.js';
import { trackFile, trackProcess, vrrpScript } from './track.js';
import { sslBlock, sslChecks } from './ssl.js';

const TOP: Table<Out> = {
  global_defs: (o, s, ctx) => {
    walk(s.block ?? [], GLOBAL_DEFS, o, ctx, (k) => WHY_GLOBAL[k] ?? `vipd has no equivalent for the global_defs keyword "${k}"`);
    ctx.comment(['global'], ` global_defs from ${where(s.words[0]!.pos)}`);
  },
  vrrp_script: vrrpScript,
  track_file: trackFile,
  vrrp_track_file: trackFile,
  vrrp_track_process: trackProcess,
  vrrp_instance: vrrpInstance,
  vrrp_sync_group: vrrpSyncGroup,
  virtual_server: virtualServer,
  SSL: sslBlock,
  virtual_server_group: (o, s, ctx) => {
    const name = s.words[1]?.text;
    if (!name) return ctx.leftOut(s.words[0]!, 'has no name');
    // keepalived's lines are vipd's: "ADDRESS[-END|/LEN] [PORT]" or "fwmark N [inet|inet6]".
    o.virtual_server_groups[name] = (s.block ?? []).map((l) => l.words.map((w) => w.text).join(' '));
    ctx.comment(['virtual_server_groups', name], ` virtual_server_group ${name} from ${where(s.words[0]!.pos)}`);
  },
};

const WHY_GLOBAL: Record<string, string> = {
  notification_email: 'vipd sends no mail (notify scripts and the journal instead)',
  notification_email_from: 'vipd sends no mail',
  smtp_server: 'vipd sends no mail',
  smtp_connect_timeout: 'vipd sends no mail',
  vrrp_strict: 'vipd has no strict mode switch',
  vrrp_skip_check_adv_addr: 'vipd has no such switch',
  enable_traps: 'vipd has no SNMP',
  enable_snmp_vrrp: 'vipd has no SNMP',
  enable_snmp_checker: 'vipd has no SNMP',
};

const WHY_TOP: Record<string, string> = {
  garp_group: "vipd has no garp_group: set garp_interval / gna_interval on the instances of that interface",
  static_ipaddress: 'vipd has no static addresses (the system\'s network configuration adds them)',
  static_routes: 'vipd has no static routes (the system\'s network configuration adds them)',
  static_rules: 'vipd has no static rules (the system\'s network configuration adds them)',
  bfd_instance: 'vipd has no BFD',
  linkbeat_interfaces: 'vipd watches links by netlink always',
};

export function translate(stmts: readonly Stmt[], source: string): Translation {
  const ctx = new Ctx();
  const out: Out = { global: {}, vrrp_scripts: {}, vrrp_track_files: {}, vrrp_track_processes: {}, vrrp_instances: {}, vrrp_sync_groups: {}, virtual_server_groups: {}, virtual_servers: {}, ipvs: {} };
  walk(stmts, TOP, out, ctx, (k) => WHY_TOP[k] ?? `vipd has no equivalent for the keyword "${k}"`);
  sslChecks(out, ctx);
  return render(out as unknown as Record<string, Record<string, unknown>>, ctx, source);
}
