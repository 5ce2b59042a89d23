// Notify scripts (notify_master ... notify): keepalived's command lines, each
// with its optional user and group, for instances and sync groups.

import { isMap } from 'yaml';
import { resolveUser, splitCommandLine } from './command.js';
import { type Fields, MapView, str } from './reader.js';
import type { GlobalConfig, NotifyScripts, ScriptCommand } from './types.js';

/** A notify key: a command line (quoted words as keepalived), or {command, user, group}; argv[0] an absolute path. */
function command(f: Fields, m: MapView, key: string, g: GlobalConfig): ScriptCommand | undefined {
  if (!m.has(key)) return undefined;
  const path = m.sub(key);
  let node = m.value(key) ?? m.keyNode(key);
  let runAs = g.scriptUser;
  const valid = `valid: a command line like "/etc/vipd/notify.sh MASTER" (quote words with spaces), or {command: "/etc/vipd/notify.sh MASTER", user: nobody, group: nogroup}`;
  if (isMap(node)) {
    const c = new MapView(f.r, node, path);
    c.allowOnly(['command', 'user', 'group']);
    if (!c.has('command')) {
      f.r.issue(node, path, `missing key "command"; ${valid}`);
      return undefined;
    }
    const user = f.get(c, 'user', str('a user name'));
    const group = f.get(c, 'group', str('a group name'));
    if (group !== undefined && user === undefined) f.r.issue(c.keyNode('group'), c.sub('group'), 'group needs a user; valid: {command: ..., user: nobody, group: nogroup}');
    if (user !== undefined) {
      const r = resolveUser(user, group);
      const bad = group !== undefined && r !== undefined && typeof r === 'string' && r.startsWith('no group') ? 'group' : 'user';
      if (typeof r === 'string') f.r.issue(c.value(bad) ?? node, c.sub(bad), `${r}; valid: an existing user (and group)`);
      else runAs = r;
    }
    node = c.value('command') ?? node;
  }
  const line = f.check(node ?? m.keyNode(key)!, path, str(valid.slice('valid: '.length)));
  if (line === undefined) return undefined;
  const split = splitCommandLine(line);
  if ('error' in split) {
    f.r.issue(node, path, `the command line ${split.error}; ${valid}`);
    return undefined;
  }
  const exe = split.argv[0];
  if (exe === undefined || !exe.startsWith('/')) {
    f.r.issue(node, path, `"${exe ?? ''}" must be an absolute path; ${valid}`);
    return undefined;
  }
  f.r.script(node, path, exe);
  return { argv: split.argv, ...(runAs ? { runAs } : {}) };
}

export function notify(f: Fields, m: MapView, g: GlobalConfig): NotifyScripts {
  const out: NotifyScripts = {};
  const keys = [
    ['notify_master', 'master'],
    ['notify_backup', 'backup'],
    ['notify_fault', 'fault'],
    ['notify_stop', 'stop'],
    ['notify', 'any'],
  ] as const;
  for (const [key, field] of keys) {
    const v = command(f, m, key, g);
    if (v !== undefined) out[field] = v;
  }
  return out;
}
