// keepalived.conf statements -> vipd.yaml text (the yaml library's Document,
// with a comment naming each block's source) and the report. The top level's
// keywords are one table; each section has its own (vrrp.ts, virtual-server.ts).

import { Document, isMap, isScalar, type YAMLMap } from 'yaml';
import { Ctx, type Finding, findingLine, type Table, walk, where } from './context.js';
import { at, type Stmt } from './syntax.js';
import { GLOBAL_DEFS, type Out, vrrpInstance, vrrpSyncGroup } from './vrrp.js';
import { virtualServer } from './virtual-server.js';
import { trackFile, trackProcess, vrrpScript } from './track.js';

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

export interface Translation {
  yaml: string;
  findings: Finding[];
  /** Something was left out (exit 3). */
  incomplete: boolean;
}

/** Attaches the comment to the key of `path` (or the document's top). */
function attach(doc: Document, path: Array<string | number>, text: string): void {
  const parent = doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return;
  const pair = (parent as YAMLMap).items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
  if (pair && isScalar(pair.key)) pair.key.commentBefore = pair.key.commentBefore ? `${pair.key.commentBefore}\n${text}` : text;
}

export function translate(stmts: readonly Stmt[], source: string): Translation {
  const ctx = new Ctx();
  const out: Out = { global: {}, vrrp_scripts: {}, vrrp_track_files: {}, vrrp_track_processes: {}, vrrp_instances: {}, vrrp_sync_groups: {}, virtual_server_groups: {}, virtual_servers: {}, ipvs: {} };
  walk(stmts, TOP, out, ctx, (k) => WHY_TOP[k] ?? `vipd has no equivalent for the keyword "${k}"`);
  const obj = Object.fromEntries(Object.entries(out).filter(([, v]) => Object.keys(v).length > 0));
  const doc = new Document(obj);
  for (const c of ctx.comments) attach(doc, c.path, c.text);
  const findings = ctx.findings.sort((a, b) => a.pos.file.localeCompare(b.pos.file) || a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  const leftOut = findings.filter((f) => f.kind === 'left-out');
  const head = [` vipd.yaml translated by "vipd import" from ${source}.`];
  if (leftOut.length) head.push(` NOT COMPLETE: ${leftOut.length} part(s) left out:`, ...leftOut.map((f) => `   ${at(f.pos)}: ${f.keyword}: ${f.why}`));
  else head.push(' Complete: every keyword has its vipd equivalent.');
  doc.commentBefore = head.join('\n');
  return { yaml: doc.toString({ lineWidth: 0 }), findings, incomplete: leftOut.length > 0 };
}

export const reportLines = (findings: readonly Finding[]): string[] => findings.map(findingLine);
