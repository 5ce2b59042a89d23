// The `global:` section: this host's name, logging, the control socket, script
// policy (script_user, enable_script_security), notify FIFOs, the instances'
// GARP defaults (vrrp_garp_*, vrrp_min_garp: garp.ts).

import { hostname } from 'node:os';
import { isScalar, type Node } from 'yaml';
import { type Fields, num, oneOf, str, bool } from './reader.js';
import { defaultScriptUser, resolveUser } from './command.js';
import { DEFAULT_CONTROL_SOCKET } from './socket.js';
import { GARP_DEFAULTS, GARP_GLOBAL_KEYS, garpDefaults } from './garp.js';
import type { GlobalConfig } from './types.js';

/** sun_path is 108 bytes with the NUL. */
const SUN_PATH = 108;

export function global(f: Fields, node: Node | null | undefined): GlobalConfig {
  const keepalivedScript = defaultScriptUser();
  const def: GlobalConfig = {
    routerId: hostname(),
    controlSocket: DEFAULT_CONTROL_SOCKET,
    logLevel: 'info',
    scriptTimeoutMs: 10_000,
    enableScriptSecurity: false,
    ...(keepalivedScript ? { scriptUser: keepalivedScript } : {}),
    notifyFifos: [],
    vrrpCheckUnicastSrc: true,
    garp: GARP_DEFAULTS,
  };
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) return def;
  const m = f.map(node, 'global', 'a map of global settings');
  if (!m) return def;
  m.allowOnly(['router_id', 'log_level', 'control_socket', 'script_timeout', 'enable_script_security', 'vrrp_check_unicast_src', 'script_user', 'notify_fifo', 'vrrp_notify_fifo', ...GARP_GLOBAL_KEYS]);
  const abs = str(`an absolute path of at most ${SUN_PATH - 1} bytes`, (s) =>
    !s.startsWith('/') ? `"${s}" is not absolute` : Buffer.byteLength(s) >= SUN_PATH ? `${Buffer.byteLength(s)} bytes is longer than a unix socket path can be (sun_path: ${SUN_PATH - 1} bytes and a NUL)` : undefined,
  );
  const t = f.get(m, 'script_timeout', num(0.1, 3600, { unit: 'seconds' }));
  let scriptUser = def.scriptUser;
  const su = f.get(m, 'script_user', str('"username [groupname]"', (s) => (/^\S+(\s+\S+)?$/.test(s.trim()) ? undefined : `"${s}" is not "username [groupname]"`)));
  if (su !== undefined) {
    const [user, group] = su.trim().split(/\s+/) as [string, string | undefined];
    const r = resolveUser(user, group);
    if (typeof r === 'string') f.r.issue(m.value('script_user'), m.sub('script_user'), `${r}; valid: "username [groupname]" of an existing user (and group)`);
    else scriptUser = r;
  }
  const fifo = str('an absolute path', (s) => (s.startsWith('/') ? undefined : `"${s}" is not absolute`));
  const notifyFifos: string[] = [];
  for (const key of ['notify_fifo', 'vrrp_notify_fifo']) {
    const v = f.get(m, key, fifo);
    if (v === undefined) continue;
    if (notifyFifos.includes(v)) f.r.issue(m.value(key), m.sub(key), `${v} is already notify_fifo; valid: FIFO names must all be different (keepalived.conf(5))`);
    else notifyFifos.push(v);
  }
  return {
    routerId: f.get(m, 'router_id', str('a name for this host')) ?? def.routerId,
    logLevel: f.get(m, 'log_level', oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)) ?? def.logLevel,
    controlSocket: f.get(m, 'control_socket', abs) ?? def.controlSocket,
    scriptTimeoutMs: t !== undefined ? Math.round(t * 1000) : def.scriptTimeoutMs,
    enableScriptSecurity: f.get(m, 'enable_script_security', bool) ?? def.enableScriptSecurity,
    ...(scriptUser ? { scriptUser } : {}),
    notifyFifos,
    vrrpCheckUnicastSrc: f.get(m, 'vrrp_check_unicast_src', bool) ?? def.vrrpCheckUnicastSrc,
    garp: garpDefaults(f, m),
  };
}
