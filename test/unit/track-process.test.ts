// track_process and track_file: the config (keepalived's keys, defaults and bounds,
// positions of bad input, did-you-mean, an address owner's weight 0), which processes
// a vrrp_track_process counts (name vs argv[0] vs parameters, param_match modes), and
// when the count makes it UP or DOWN (quorum, quorum_max, fork_delay / terminate_delay).

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { TrackProcessConfig } from '../../src/config/types.js';
import { initialQuorum, matchProcess, paramsMatch, parseCmdline, parseStat, quorumCount, quorumTimer } from '../../src/vrrp/track-process.js';
import { trackEffect } from '../../src/vrrp/track.js';
import { configIssues as issues } from './fixtures.js';

const MIN = `vrrp_instances:
  VI_1:
    interface: eth0
    vrid: 51
    virtual_ipaddress: [192.0.2.100/24]
`;

const rule = (over: Partial<TrackProcessConfig> = {}): TrackProcessConfig => ({
  name: 'p', process: 'haproxy', params: [], paramMatch: 'none', fullCommand: false, weight: 0, reverse: false, quorum: 1, quorumMax: Number.MAX_SAFE_INTEGER, forkDelayMs: 0, terminateDelayMs: 0, ...over,
});

describe('vrrp_track_processes config', () => {
  it('keepalived defaults; parameters and param_match imply full_command; delay sets both delays', () => {
    const c = parseConfig(`vrrp_track_processes:
  hap: {process: haproxy}
  hapf: {process: "/usr/sbin/haproxy -f '/etc/haproxy/a b.cfg'", weight: -20, quorum: 2, quorum_max: 4, delay: 0.5, fork_delay: 0.25}
  bare: {process: [/usr/bin/nginx], param_match: exact, reverse: true}
  none: {process: sshd, quorum_max: 0}
${MIN}    track_process: [hap, {name: hapf, weight: -30}, bare, none]
`, 'f.yaml');
    expect(c.trackProcesses).toEqual([
      rule({ name: 'hap' }),
      rule({ name: 'hapf', process: '/usr/sbin/haproxy', params: ['-f', '/etc/haproxy/a b.cfg'], paramMatch: 'exact', fullCommand: true, weight: -20, quorum: 2, quorumMax: 4, forkDelayMs: 250, terminateDelayMs: 500 }),
      rule({ name: 'bare', process: '/usr/bin/nginx', paramMatch: 'exact', fullCommand: true, reverse: true }),
      rule({ name: 'none', process: 'sshd', quorum: 0, quorumMax: 0 }),
    ]);
    expect(c.instances[0]!.trackProcesses).toEqual([
      { name: 'hap', weight: 0, reverse: false },
      { name: 'hapf', weight: -30, reverse: false },
      { name: 'bare', weight: 0, reverse: true },
      { name: 'none', weight: 0, reverse: false },
    ]);
  });

  it('bad definitions and references, each at its position, with what is valid', () => {
    expect(issues(`vrrp_track_processes:
  a: {process: /usr/sbin/haproxy}
  b: {process: a-very-long-process-name}
  c: {process: x, param_match: fuzzy, quorum: 3, quorum_max: 2, weight: 300, delay: 0}
  d: {procss: x}
${MIN}    priority: 255
    track_process: [haproxy, {name: a, weight: -10}]
`)).toEqual([
      '2:16 vrrp_track_processes.a.process: "/usr/sbin/haproxy" is a path, and a process name (comm) never holds a "/"; valid: the name (haproxy), or full_command: true to match argv[0]',
      '3:16 vrrp_track_processes.b.process: "a-very-long-process-name" is 24 bytes, and the kernel cuts a process name (comm) to 15; valid: "a-very-long-pro", or full_command: true to match argv[0]',
      '4:32 vrrp_track_processes.c.param_match: string "fuzzy" is not allowed; valid: exact | partial | initial',
      '4:62 vrrp_track_processes.c.quorum_max: quorum_max 2 is below quorum 3; valid: quorum_max >= quorum',
      '4:73 vrrp_track_processes.c.weight: 300 is out of range; valid: an integer -254..254 (0 = FAULT while down; > 0 added while up; < 0 added while down)',
      '4:85 vrrp_track_processes.c.delay: 0 is out of range; valid: a number 0.000001..3600 (seconds)',
      '5:6 vrrp_track_processes.d.process: missing key "process"; valid: process: haproxy (the process name), or "/usr/sbin/haproxy -f /etc/haproxy/haproxy.cfg" (argv)',
      '5:7 vrrp_track_processes.d.procss: unknown key "procss"; did you mean "process"? valid keys: process, param_match, weight, reverse, quorum, quorum_max, delay, fork_delay, terminate_delay, full_command',
      '12:21 vrrp_instances.VI_1.track_process[0]: no vrrp_track_processes entry "haproxy"; valid: a, b, c, d',
      '12:48 vrrp_instances.VI_1.track_process[1]: an address owner (priority 255) is not moved by tracking (keepalived requires weight 0 for it); valid: weight: 0 on this entry (FAULT while failing), or a priority below 255',
    ]);
  });

  it('sync groups track processes and files too; a typo gets a did-you-mean', () => {
    const top = `vrrp_track_processes:\n  hap: {process: haproxy}\nvrrp_track_files:\n  prio: {file: /run/vipd/prio}\n`;
    const c = parseConfig(`${top}${MIN}vrrp_sync_groups:\n  G: {group: [VI_1], track_process: [hap], track_file: [{name: prio, weight: 10}]}\n`, 'f.yaml');
    expect(c.syncGroups[0]).toMatchObject({ trackProcesses: [{ name: 'hap', weight: 0, reverse: false }], trackFiles: [{ name: 'prio', weight: 10, reverse: false }] });
    expect(issues(`${top}${MIN}vrrp_sync_groups:\n  G: {group: [VI_1], track_process: [hapx]}\n`)).toEqual([
      '11:38 vrrp_sync_groups.G.track_process[0]: no vrrp_track_processes entry "hapx"; did you mean "hap"? valid: hap',
    ]);
  });
});

describe('vrrp_track_files config', () => {
  it('keepalived defaults (weight 1), init_file forms; an instance tracks it', () => {
    const c = parseConfig(`vrrp_track_files:
  a: {file: /run/vipd/a}
  b: {file: /run/vipd/b, weight: 0, reverse: true, init_file: true}
  c: {file: /run/vipd/c, init_file: 5}
  d: {file: /run/vipd/d, init_file: {value: -3, overwrite: true}}
${MIN}    track_file: [a, {name: b, weight: 0}, c, d]
`, 'f.yaml');
    expect(c.trackFiles).toEqual([
      { name: 'a', file: '/run/vipd/a', weight: 1, reverse: false },
      { name: 'b', file: '/run/vipd/b', weight: 0, reverse: true, init: { value: 0, overwrite: false } },
      { name: 'c', file: '/run/vipd/c', weight: 1, reverse: false, init: { value: 5, overwrite: false } },
      { name: 'd', file: '/run/vipd/d', weight: 1, reverse: false, init: { value: -3, overwrite: true } },
    ]);
    expect(c.instances[0]!.trackFiles.map((r) => r.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a relative path, a bad init_file and an unknown name are rejected where they are', () => {
    expect(issues(`vrrp_track_files:\n  a: {file: run/a, init_file: maybe}\n${MIN}    track_file: [b]\n`)).toEqual([
      '2:13 vrrp_track_files.a.file: "run/a" is not an absolute path; valid: an absolute path',
      '2:31 vrrp_track_files.a.init_file: expected true, an integer or a map, got "maybe"; valid: true (write 0 if the file is missing), an integer, or {value: 0, overwrite: true}',
      '8:18 vrrp_instances.VI_1.track_file[0]: no vrrp_track_files entry "b"; did you mean "a"? valid: a',
    ]);
  });

  it('the values: times the weight; weight 0 a non-zero value is FAULT; below -253 FAULT', () => {
    const f = (value: number, weight: number, reverse = false) => ({ what: 'track_file prio', weight, reverse, up: true, value });
    expect(trackEffect(100, [f(5, 2)]).priority).toBe(110);
    expect(trackEffect(100, [f(-30, 1)]).priority).toBe(70);
    expect(trackEffect(100, [f(1, 0)]).faults).toEqual(['track_file prio is 1']);
    expect(trackEffect(100, [f(0, 0)]).faults).toEqual([]);
    expect(trackEffect(100, [f(-200, 2)]).faults).toEqual(['track_file prio is -200 (x 2 = -400, below -253)']);
  });
});

describe('which processes a vrrp_track_process counts', () => {
  it('by name: the comm, exactly (haproxy is not haproxy-x, ssh is not sshd); argv does not matter', () => {
    const r = rule();
    expect(matchProcess(r, { comm: 'haproxy' })).toBe(true);
    expect(matchProcess(r, { comm: 'haproxy', argv: ['/usr/sbin/haproxy', '-f', 'x'] })).toBe(true);
    expect(matchProcess(r, { comm: 'haproxy-x' })).toBe(false);
    expect(matchProcess(rule({ process: 'ssh' }), { comm: 'sshd' })).toBe(false);
  });

  it('full_command: argv[0] exactly, not the name', () => {
    const r = rule({ process: '/usr/sbin/haproxy', fullCommand: true });
    expect(matchProcess(r, { comm: 'haproxy', argv: ['/usr/sbin/haproxy', '-D'] })).toBe(true);
    expect(matchProcess(r, { comm: 'haproxy', argv: ['haproxy', '-D'] })).toBe(false);
    expect(matchProcess(r, { comm: 'haproxy' })).toBe(false); // a kernel thread: no command line
  });

  it('param_match exact (the default with parameters), partial, initial', () => {
    const args = ['-f', '/etc/haproxy/haproxy.cfg'];
    const exact = rule({ params: args, paramMatch: 'exact' });
    expect(paramsMatch(exact, args)).toBe(true);
    expect(paramsMatch(exact, [...args, '-D'])).toBe(false);
    expect(paramsMatch(exact, ['-f'])).toBe(false);
    expect(paramsMatch(rule({ params: [], paramMatch: 'exact' }), [])).toBe(true); // param_match alone: no parameters at all
    expect(paramsMatch(rule({ params: [], paramMatch: 'exact' }), ['-D'])).toBe(false);
    const partial = rule({ params: args, paramMatch: 'partial' });
    expect(paramsMatch(partial, [...args, '-D'])).toBe(true);
    expect(paramsMatch(partial, ['-f', '/etc/haproxy/haproxy.cfg.new'])).toBe(false);
    const initial = rule({ params: ['-f', '/etc/haproxy/'], paramMatch: 'initial' });
    expect(paramsMatch(initial, ['-f', '/etc/haproxy/haproxy.cfg', '-D'])).toBe(true);
    expect(paramsMatch(initial, ['-x', '/etc/haproxy/haproxy.cfg'])).toBe(false);
    expect(paramsMatch(initial, ['-f'])).toBe(false);
    expect(matchProcess({ ...partial, fullCommand: true, process: '/usr/sbin/haproxy' }, { comm: 'haproxy', argv: ['/usr/sbin/haproxy', ...args, '-D'] })).toBe(true);
  });

  it('/proc parsing: a comm with ") " in it, zombies, command lines', () => {
    expect(parseStat('1234 (we ird) S) Z 1 1234 1234 0 -1')).toEqual({ comm: 'we ird) S', state: 'Z', ppid: 1 });
    expect(parseStat('77 (haproxy) S 76 77 77 0')).toEqual({ comm: 'haproxy', state: 'S', ppid: 76 });
    expect(parseStat('garbage')).toBeUndefined();
    expect(parseCmdline('/usr/sbin/haproxy\0-f\0a b\0')).toEqual(['/usr/sbin/haproxy', '-f', 'a b']);
    expect(parseCmdline('nginx: worker process')).toEqual(['nginx: worker process']);
    expect(parseCmdline('')).toEqual([]);
  });
});

describe('quorum and delays', () => {
  it('UP while quorum <= count <= quorum_max; quorum_max 0: UP while none runs', () => {
    const r = rule({ quorum: 2, quorumMax: 3 });
    expect([0, 1, 2, 3, 4].map((n) => initialQuorum(r, n).up)).toEqual([false, false, true, true, false]);
    expect(initialQuorum(rule({ quorum: 0, quorumMax: 0 }), 0).up).toBe(true);
    expect(initialQuorum(rule({ quorum: 0, quorumMax: 0 }), 1).up).toBe(false);
  });

  it('without delays the verdict follows every change at once', () => {
    const r = rule({ quorum: 2 });
    let s = initialQuorum(r, 2);
    s = quorumCount(r, s, 1, 'exit', 0);
    expect(s).toEqual({ count: 1, up: false });
    s = quorumCount(r, s, 2, 'fork', 10);
    expect(s).toEqual({ count: 2, up: true });
  });

  it('terminate_delay: a process restarted within it never takes the verdict down; one that stays away does, after it', () => {
    const r = rule({ terminateDelayMs: 1000, forkDelayMs: 500 });
    let s = initialQuorum(r, 1);
    s = quorumCount(r, s, 0, 'exit', 100);
    expect(s).toEqual({ count: 0, up: true, pendingUntil: 1100 });
    s = quorumCount(r, s, 1, 'exec', 600); // restarted: the wait is cancelled
    expect(s).toEqual({ count: 1, up: true });
    s = quorumCount(r, s, 0, 'exit', 2000);
    expect(s.pendingUntil).toBe(3000);
    s = quorumTimer(r, s);
    expect(s).toEqual({ count: 0, up: false });
  });

  it('fork_delay: quorum gained by a fork waits; by an exec it does not; a second exit keeps the wait running', () => {
    const r = rule({ quorum: 2, forkDelayMs: 500, terminateDelayMs: 1000 });
    let s = initialQuorum(r, 1);
    expect(quorumCount(r, s, 2, 'exec', 0)).toEqual({ count: 2, up: true });
    s = quorumCount(r, s, 2, 'fork', 0);
    expect(s).toEqual({ count: 2, up: false, pendingUntil: 500 });
    expect(quorumTimer(r, s)).toEqual({ count: 2, up: true });
    let t = initialQuorum(r, 3);
    t = quorumCount(r, t, 1, 'exit', 0);
    t = quorumCount(r, t, 0, 'exit', 10);
    expect(t).toEqual({ count: 0, up: true, pendingUntil: 1000 });
  });
});
