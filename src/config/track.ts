// The tracking sections: top-level `vrrp_scripts` (keepalived's vrrp_script blocks)
// and the `track_script` lists of instances and sync groups that name them.
// keepalived.conf(5): weight -253..253, default 0 (FAULT while failing); interval
// default 1 s; timeout default the interval; rise/fall default 1; init_fail; user.

import { statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isMap, type Node } from 'yaml';
import { resolveUser, splitCommandLine } from './command.js';
import { bool, didYouMean, type Fields, MapView, NAME, num, scalarValue, str } from './reader.js';
import type { TrackFileConfig, TrackRef, VrrpScriptConfig } from './types.js';

/** The PATH a bare command name is looked up in when the daemon has none (systemd's default). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A bare command name resolved through PATH (as keepalived resolves a script name), or undefined. */
export function resolveCommand(name: string, path = process.env.PATH || DEFAULT_PATH): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir.startsWith('/')) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A `script:` value (a command line, or a list as argv) checked and registered for the file-system checks. */
function command(f: Fields, m: MapView): string[] | undefined {
  if (!m.has('script')) {
    f.r.issue(m.node, m.sub('script'), 'missing key "script"; valid: script: /etc/vipd/chk.sh, or a command line like "killall -0 haproxy"');
    return undefined;
  }
  const node = m.value('script');
  const sv = scalarValue(node);
  let argv: string[];
  if (Array.isArray(sv)) argv = (f.list(m, 'script') ?? []).map((n) => String(scalarValue(n)));
  else {
    const text = f.get(m, 'script', str('a command line, e.g. "killall -0 haproxy" or /etc/vipd/chk.sh'));
    if (text === undefined) return undefined;
    const split = splitCommandLine(text);
    if ('error' in split) {
      f.r.issue(node, m.sub('script'), `"${text}" ${split.error}; valid: a command line with balanced quotes`);
      return undefined;
    }
    argv = split.argv;
  }
  const first = argv[0];
  if (!first) {
    f.r.issue(node ?? m.node, m.sub('script'), 'the command is empty; valid: a command line like "killall -0 haproxy"');
    return undefined;
  }
  if (!first.includes('/')) {
    const found = resolveCommand(first);
    if (!found) {
      f.r.issue(node ?? m.node, m.sub('script'), `no "${first}" in PATH; valid: an absolute path or a command in PATH`);
      return undefined;
    }
    argv = [found, ...argv.slice(1)];
  } else if (!first.startsWith('/')) {
    f.r.issue(node ?? m.node, m.sub('script'), `"${first}" must be an absolute path or a bare command name; valid: e.g. /etc/vipd/chk.sh`);
    return undefined;
  }
  f.r.script(node, m.sub('script'), argv[0]!);
  return argv;
}

function vrrpScript(f: Fields, name: string, keyNode: Node, node: Node | null): VrrpScriptConfig | undefined {
  const path = `vrrp_scripts.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `script name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const m = f.map(node ?? keyNode, path, 'a map {script: ..., interval: 1, weight: 0}');
  if (!m) return undefined;
  m.allowOnly(['script', 'interval', 'timeout', 'weight', 'reverse', 'rise', 'fall', 'user', 'init_fail']);
  const argv = command(f, m);
  const interval = f.get(m, 'interval', num(0.001, 86400, { unit: 'seconds' })) ?? 1;
  const timeout = f.get(m, 'timeout', num(0.001, 86400, { unit: 'seconds' })) ?? interval;
  const weight = f.get(m, 'weight', num(-253, 253, { integer: true, unit: '0 = FAULT while failing; > 0 added while OK; < 0 added while failing' })) ?? 0;
  const reverse = f.get(m, 'reverse', bool) ?? false;
  const rise = f.get(m, 'rise', num(1, 1000, { integer: true })) ?? 1;
  const fall = f.get(m, 'fall', num(1, 1000, { integer: true })) ?? 1;
  const initFail = f.get(m, 'init_fail', bool) ?? false;
  let user: VrrpScriptConfig['user'];
  const uname = f.get(m, 'user', str('a user name'));
  if (uname !== undefined) {
    const u = resolveUser(uname);
    if (typeof u === 'string') f.r.issue(m.value('user') ?? m.node, m.sub('user'), `${u}; valid: an existing user (the script runs with its uid and primary gid)`);
    else user = { name: uname, uid: u.uid, gid: u.gid };
  }
  if (!argv) return undefined;
  return { name, command: argv, intervalMs: Math.round(interval * 1000), timeoutMs: Math.round(timeout * 1000), weight, reverse, rise, fall, initFail, ...(user ? { user } : {}) };
}

function trackFile(f: Fields, name: string, keyNode: Node, node: Node | null): TrackFileConfig | undefined {
  const path = `vrrp_track_files.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `track file name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const m = f.map(node ?? keyNode, path, 'a map {file: /run/vipd/prio, weight: 1}');
  if (!m) return undefined;
  m.allowOnly(['file', 'weight', 'reverse', 'init_file']);
  if (!m.has('file')) f.r.issue(m.node, m.sub('file'), 'missing key "file"; valid: file: /run/vipd/prio (an absolute path)');
  const file = f.get(m, 'file', str('an absolute path', (s) => (s.startsWith('/') ? undefined : `"${s}" is not an absolute path`)));
  const weight = f.get(m, 'weight', num(-254, 254, { integer: true, unit: '0: a non-zero value is a failure; else value x weight is added' })) ?? 1;
  const reverse = f.get(m, 'reverse', bool) ?? false;
  let init: TrackFileConfig['init'];
  if (m.has('init_file')) {
    const v = m.value('init_file');
    if (isMap(v)) {
      const im = new MapView(f.r, v, m.sub('init_file'));
      im.allowOnly(['value', 'overwrite']);
      init = { value: f.get(im, 'value', num(-2147483648, 2147483647, { integer: true })) ?? 0, overwrite: f.get(im, 'overwrite', bool) ?? false };
    } else {
      const sv = scalarValue(v);
      if (sv === true) init = { value: 0, overwrite: false };
      else if (typeof sv === 'number' && Number.isInteger(sv)) init = { value: sv, overwrite: false };
      else if (sv !== false)
        f.r.issue(v ?? m.node, m.sub('init_file'), `expected true, an integer or a map, got ${JSON.stringify(sv)}; valid: true (write 0 if the file is missing), an integer, or {value: 0, overwrite: true}`);
    }
  }
  if (file === undefined) return undefined;
  return { name, file, weight, reverse, ...(init ? { init } : {}) };
}

/** A top-level map of trackers by name; the defaults of every name defined, a broken one included (its references are no errors too). */
export function trackers<T extends { weight: number; reverse: boolean }>(
  f: Fields,
  top: MapView,
  key: string,
  what: string,
  one: (f: Fields, name: string, keyNode: Node, node: Node | null) => T | undefined,
): { defs: T[]; defaults: TrackDefaults } {
  const defs: T[] = [];
  const defaults = new Map<string, { weight: number; reverse: boolean }>();
  if (!top.has(key)) return { defs, defaults };
  const sm = f.map(top.value(key) ?? top.keyNode(key), key, `a map of name -> ${what}`);
  for (const name of sm?.keys() ?? []) {
    const d = one(f, name, sm!.keyNode(name)!, sm!.value(name) ?? null);
    if (d) defs.push(d);
    defaults.set(name, { weight: d?.weight ?? 0, reverse: d?.reverse ?? false });
  }
  return { defs, defaults };
}

/** `vrrp_track_files`: name -> track_file. */
export function trackFiles(f: Fields, top: MapView): { files: TrackFileConfig[]; defaults: TrackDefaults } {
  const { defs, defaults } = trackers(f, top, 'vrrp_track_files', '{file, weight, init_file}', trackFile);
  return { files: defs, defaults };
}

/** `vrrp_scripts`: name -> vrrp_script. */
export function vrrpScripts(f: Fields, top: MapView): { scripts: VrrpScriptConfig[]; defaults: TrackDefaults } {
  const { defs, defaults } = trackers(f, top, 'vrrp_scripts', '{script, interval, weight, ...}', vrrpScript);
  return { scripts: defs, defaults };
}

/** Defaults a track_* entry falls back to: the tracker's own weight and reverse. */
export type TrackDefaults = ReadonlyMap<string, { weight: number; reverse: boolean }>;

/**
 * A `track_script` list: `[name | {name, weight, reverse}]`, every name one of `known`
 * (did-you-mean otherwise). An address owner (priority 255) accepts weight 0 only.
 */
export function trackRefs(f: Fields, m: MapView, key: string, known: TrackDefaults, what: string, priority: number | undefined, maxWeight: number): TrackRef[] {
  const out: TrackRef[] = [];
  (f.list(m, key) ?? []).forEach((n, i) => {
    const p = `${m.sub(key)}[${i}]`;
    let name: string | undefined;
    let weight: number | undefined;
    let reverse: boolean | undefined;
    let nameNode: Node = n;
    let weightNode: Node = n;
    if (isMap(n)) {
      const t = new MapView(f.r, n, p);
      t.allowOnly(['name', 'weight', 'reverse']);
      if (!t.has('name')) f.r.issue(n, p, `missing key "name"; valid: {name: chk, weight: -20}`);
      name = f.get(t, 'name', str(`the name of a ${what}`));
      nameNode = t.value('name') ?? n;
      weight = f.get(t, 'weight', num(-maxWeight, maxWeight, { integer: true, unit: '0 = FAULT while failing' }));
      weightNode = t.value('weight') ?? n;
      reverse = f.get(t, 'reverse', bool);
    } else name = f.check(n, p, str(`the name of a ${what}`));
    if (name === undefined) return;
    const def = known.get(name);
    if (!def) {
      const guess = didYouMean(name, [...known.keys()]);
      f.r.issue(nameNode, p, `no ${what} "${name}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${[...known.keys()].join(', ') || `(no ${what}s defined)`}`);
      return;
    }
    const w = weight ?? def.weight;
    if (w !== 0 && priority === 255) {
      f.r.issue(weightNode, p, `an address owner (priority 255) is not moved by tracking (keepalived requires weight 0 for it); valid: weight: 0 on this entry (FAULT while failing), or a priority below 255`);
      return;
    }
    out.push({ name, weight: w, reverse: reverse ?? def.reverse });
  });
  return out;
}
