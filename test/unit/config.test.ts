import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/reader.js';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { summarize } from '../../src/cli/summary.js';
import { configIssues } from './fixtures.js';
import { GARP_DEFAULTS } from '../../src/config/garp.js';

const SAMPLE = fileURLToPath(new URL('../../etc/vipd/vipd.yaml', import.meta.url));

const issues = configIssues;

const MIN = `vrrp_instances:
  VI_1:
    interface: eth0
    vrid: 51
    virtual_ipaddress: [192.0.2.100/24]
`;

describe('valid configs', () => {
  it('the sample etc/vipd/vipd.yaml loads with its values', () => {
    const c = loadConfig(SAMPLE);
    expect(c.file).toBe(SAMPLE);
    expect(c.global).toEqual({ routerId: 'lb1', logLevel: 'info', controlSocket: '/run/vipd/vipd.sock', scriptTimeoutMs: 10_000, enableScriptSecurity: false, notifyFifos: [], vrrpCheckUnicastSrc: true, garp: GARP_DEFAULTS });
    expect(c.instances).toHaveLength(1);
    expect(c.instances[0]).toMatchObject({
      name: 'VI_1',
      interface: 'eth0',
      vrid: 51,
      priority: 150,
      advertIntervalCs: 100,
      version: 3,
      v3Checksum: 'pseudo-header',
      virtualIps: [
        { address: '192.0.2.100', prefix: 24, device: 'eth0' },
        { address: '198.51.100.1', prefix: 24, device: 'eth1', label: 'eth1:gw' },
      ],
      unicastPeers: [],
      preempt: true,
      preemptDelayMs: 0,
      trackInterfaces: [{ name: 'eth1', weight: 0 }],
      notify: {},
      garp: { count: 5, intervalMs: 0, gnaIntervalMs: 0, repeatDelayMs: 5000, refreshMs: 0, refreshCount: 1, lowerPrioCount: 5, lowerPrioDelayMs: 5000 },
    });
    expect(c.syncGroups).toEqual([{ name: 'G1', instances: ['VI_1'], trackScripts: [], trackFiles: [], trackProcesses: [], notify: {} }]);
    expect(summarize(c)).toMatch(/^OK .*1 VRRP instance, 1 sync group, 1 virtual server \(2 real servers\)\n {2}VI_1 eth0 vrid 51 prio 150 VRRPv3 advert 1s/);
    expect(c.virtualServers.map((v) => v.name)).toEqual(["web"]);
  });

  it('a minimal instance gets every default', () => {
    const c = parseConfig(MIN, 'f.yaml');
    expect(c.instances[0]).toEqual({
      name: 'VI_1',
      interface: 'eth0',
      vrid: 51,
      priority: 100,
      advertIntervalCs: 100,
      version: 3,
      v3Checksum: 'pseudo-header',
      virtualIps: [{ address: '192.0.2.100', prefix: 24, device: 'eth0' }],
      unicastPeers: [],
      unicastTtl: 255,
      checkUnicastSrc: true,
      preempt: true,
      preemptDelayMs: 0,
      answerLowerPriority: true,
      accept: true,
      trackInterfaces: [],
      trackScripts: [],
      trackFiles: [],
      trackProcesses: [],
      notify: {},
      garp: { count: 5, intervalMs: 0, gnaIntervalMs: 0, repeatDelayMs: 5000, refreshMs: 0, refreshCount: 1, lowerPrioCount: 5, lowerPrioDelayMs: 5000 },
      virtualRoutes: [],
      virtualRules: [],
    });
    expect(c.syncGroups).toEqual([]);
    expect(c.global.controlSocket).toBe('/run/vipd/vipd.sock');
  });

  it('keepalived spellings: v2 with PASS, nopreempt, unicast, weights, 0.01 s steps in v3', () => {
    const c = parseConfig(
      `vrrp_instances:
  A:
    interface: eth0
    vrid: 1
    version: 2
    advert_int: 2
    authentication: {auth_type: PASS, auth_pass: secret12}
    nopreempt: true
    unicast_src_ip: 10.0.0.1
    unicast_peer: 10.0.0.2
    track_interface: [eth1, {name: eth2, weight: -20}]
    virtual_ipaddress: [10.0.0.100]
  B:
    interface: eth0
    vrid: 2
    advert_int: 0.07
    preempt_delay: 2.5
    virtual_ipaddress: [{address: 10.0.1.100/24, device: eth1, label: "eth1:b"}]
`,
      'f.yaml',
    );
    expect(c.instances[0]).toMatchObject({
      version: 2,
      advertIntervalCs: 200,
      authPass: 'secret12',
      preempt: false,
      unicastSrcIp: '10.0.0.1',
      unicastPeers: ['10.0.0.2'],
      trackInterfaces: [
        { name: 'eth1', weight: 0 },
        { name: 'eth2', weight: -20 },
      ],
      virtualIps: [{ address: '10.0.0.100', prefix: 32, device: 'eth0' }],
    });
    expect(c.instances[1]).toMatchObject({ advertIntervalCs: 7, preemptDelayMs: 2500, virtualIps: [{ device: 'eth1', label: 'eth1:b' }] });
  });
});

describe('errors name the place, the key, the problem and what is valid', () => {
  it('unknown key with a suggestion', () => {
    expect(issues(MIN + '    priorty: 120\n')).toEqual([
      expect.stringMatching(/^6:5 vrrp_instances\.VI_1\.priorty: unknown key "priorty"; did you mean "priority"\? valid keys: interface, vrid, priority/),
    ]);
  });

  it('out of range, wrong type, bad enum, with positions of the values', () => {
    const out = issues(MIN + '    priority: 300\n    advert_int: fast\n    version: 4\n    preempt: yes\n');
    expect(out).toEqual([
      '6:15 vrrp_instances.VI_1.priority: 300 is out of range; valid: an integer 1..255',
      '7:17 vrrp_instances.VI_1.advert_int: expected a number 0.01..40.95 (seconds) in steps of 0.01, got string "fast"',
      '8:14 vrrp_instances.VI_1.version: number 4 is not allowed; valid: 2 | 3',
      '9:14 vrrp_instances.VI_1.preempt: expected true or false, got string "yes" (YAML 1.2: write true or false)',
    ]);
  });

  it('track_interface: weight in -253..253 with its meaning; reverse; an address owner takes weight 0 only', () => {
    expect(issues(MIN + '    track_interface: [{name: eth1, weight: 300}]\n')).toEqual([
      '6:44 vrrp_instances.VI_1.track_interface[0].weight: 300 is out of range; valid: an integer -253..253 (0 = FAULT while down; > 0 added while up; < 0 added while down)',
    ]);
    expect(issues(MIN + '    priority: 255\n    track_interface: [{name: eth1, weight: -20}]\n')).toEqual([
      '7:44 vrrp_instances.VI_1.track_interface[0].weight: an address owner (priority 255) is not moved by tracking (keepalived requires weight 0 for it); valid: weight 0 (FAULT while down), or a priority below 255',
    ]);
    const c = parseConfig(MIN + '    track_interface: [eth1, {name: eth2, weight: 10, reverse: true}]\n', 'x.yaml');
    expect(c.instances[0]!.trackInterfaces).toEqual([{ name: 'eth1', weight: 0, reverse: false }, { name: 'eth2', weight: 10, reverse: true }]);
  });

  it('vrrp_scripts and track_script: keepalived defaults, command lines, did-you-mean, owner weight, unknown user', () => {
    const S = `vrrp_scripts:
  chk_haproxy: {script: "test -e '/run/a b'", weight: -20, rise: 2}
  chk_web: {script: [/bin/true, x], interval: 2, user: nobody, init_fail: true}
`;
    const c = parseConfig(S + MIN + '    track_script: [chk_haproxy, {name: chk_web, weight: 5, reverse: true}]\n', 'x.yaml');
    expect(c.vrrpScripts).toEqual([
      { name: 'chk_haproxy', command: ['/usr/bin/test', '-e', '/run/a b'], intervalMs: 1000, timeoutMs: 1000, weight: -20, reverse: false, rise: 2, fall: 1, initFail: false },
      { name: 'chk_web', command: ['/bin/true', 'x'], intervalMs: 2000, timeoutMs: 2000, weight: 0, reverse: false, rise: 1, fall: 1, initFail: true, user: { name: 'nobody', uid: 65534, gid: 65534 } },
    ]);
    expect(c.instances[0]!.trackScripts).toEqual([{ name: 'chk_haproxy', weight: -20, reverse: false }, { name: 'chk_web', weight: 5, reverse: true }]);
    const bad = issues(`vrrp_scripts:
  chk_haproxy: {script: "no-such-command-x -0", user: nosuchuser, weight: -300}
  chk2: {script: "/bin/true 'open"}
${MIN.slice('vrrp_instances:\n'.length).replace('VI_1', 'VI_1').replace(/^/, 'vrrp_instances:\n')}    priority: 255
    track_script: [chk_haprox, {name: chk2, weight: 10}]
`);
    expect(bad).toEqual([
      '2:25 vrrp_scripts.chk_haproxy.script: no "no-such-command-x" in PATH; valid: an absolute path or a command in PATH',
      '2:55 vrrp_scripts.chk_haproxy.user: no user "nosuchuser" on this host; valid: an existing user (the script runs with its uid and primary gid)',
      "2:75 vrrp_scripts.chk_haproxy.weight: -300 is out of range; valid: an integer -253..253 (0 = FAULT while failing; > 0 added while OK; < 0 added while failing)",
      `3:18 vrrp_scripts.chk2.script: "/bin/true 'open" has an unterminated single quote; valid: a command line with balanced quotes`,
      '10:20 vrrp_instances.VI_1.track_script[0]: no vrrp_script "chk_haprox"; did you mean "chk_haproxy"? valid: chk_haproxy, chk2',
      '10:53 vrrp_instances.VI_1.track_script[1]: an address owner (priority 255) is not moved by tracking (keepalived requires weight 0 for it); valid: weight: 0 on this entry (FAULT while failing), or a priority below 255',
    ]);
    expect(issues(`vrrp_scripts:\n  chk: {script: /bin/true}\n${MIN}    priority: 255\n    track_script: [{name: chk, weight: 10}]\n`)).toEqual([
      '9:40 vrrp_instances.VI_1.track_script[0]: an address owner (priority 255) is not moved by tracking (keepalived requires weight 0 for it); valid: weight: 0 on this entry (FAULT while failing), or a priority below 255',
    ]);
  });

  it('unicast_ttl (0..255) and check_unicast_src: unicast instances only; vrrp_check_unicast_src is their default', () => {
    const uni = MIN + '    unicast_peer: [192.0.2.12]\n';
    expect(parseConfig(uni + '    unicast_ttl: 64\n    check_unicast_src: false\n', 'f.yaml').instances[0]).toMatchObject({ unicastTtl: 64, checkUnicastSrc: false });
    expect(parseConfig('global: {vrrp_check_unicast_src: false}\n' + uni, 'f.yaml').instances[0]).toMatchObject({ unicastTtl: 255, checkUnicastSrc: false });
    expect(issues(uni + '    unicast_ttl: 256\n')).toEqual(['7:18 vrrp_instances.VI_1.unicast_ttl: 256 is out of range; valid: an integer 0..255']);
    expect(issues(MIN + '    unicast_ttl: 64\n')).toEqual([
      '6:5 vrrp_instances.VI_1.unicast_ttl: unicast_ttl applies to unicast adverts only and this instance has no unicast_peer; remove it or add unicast_peer: [...]',
    ]);
  });

  it('advert_int: v3 in 0.01 s steps, v2 whole seconds', () => {
    expect(issues(MIN + '    advert_int: 0.015\n')[0]).toMatch(/^6:17 .*advert_int: 0.015 is not a multiple of 0.01/);
    expect(issues(MIN + '    version: 2\n    advert_int: 0.5\n')[0]).toMatch(/^7:17 .*advert_int: 0.5 is not a whole number; valid: an integer 1..255 \(seconds, VRRPv2 counts whole seconds\)/);
  });

  it('malformed and unusable virtual addresses, each at its own position', () => {
    const out = issues(`vrrp_instances:
  VI_1:
    interface: eth0
    vrid: 51
    virtual_ipaddress:
      - 192.0.2.300/24
      - 192.0.2.1/33
      - 224.0.0.5
      - 192.0.2.7
      - 192.0.2.7/24
      - {address: 192.0.2.9, device: eth1, label: eth0:x}
`);
    expect(out).toEqual([
      expect.stringMatching(/^6:9 vrrp_instances\.VI_1\.virtual_ipaddress\[0\]: "192\.0\.2\.300\/24" is not an IPv4 address; valid: /),
      expect.stringMatching(/^7:9 .*\[1\]: prefix length "\/33" is out of range/),
      expect.stringMatching(/^8:9 .*\[2\]: 224\.0\.0\.5 cannot be a virtual IP/),
      expect.stringMatching(/^10:9 .*\[4\]: 192\.0\.2\.7 is listed twice/),
      expect.stringMatching(/^11:51 .*\[5\]\.label: label "eth0:x" must start with "eth1:"/),
    ]);
  });

  it('missing required keys are reported at the instance', () => {
    expect(issues('vrrp_instances:\n  VI_1:\n    priority: 100\n')).toEqual([
      expect.stringMatching(/^3:5 vrrp_instances\.VI_1: missing required key "interface"/),
      expect.stringMatching(/^3:5 vrrp_instances\.VI_1: missing required key "vrid"/),
      expect.stringMatching(/^3:5 vrrp_instances\.VI_1: missing required key "virtual_ipaddress"/),
    ]);
  });

  it('duplicate VRID on one interface names the first user; the same VRID on another interface is fine', () => {
    const two = (iface: string) => `vrrp_instances:
  A: {interface: eth0, vrid: 51, virtual_ipaddress: [10.0.0.1]}
  B: {interface: ${iface}, vrid: 51, virtual_ipaddress: [10.0.0.2]}
`;
    expect(issues(two('eth0'))).toEqual(['3:30 vrrp_instances.B.vrid: vrid 51 on eth0 is already used by instance "A"; valid: a vrid unique per interface']);
    expect(parseConfig(two('eth1'), 'f.yaml').instances).toHaveLength(2);
  });

  it('authentication with v3, a long password, nopreempt with preempt', () => {
    const out = issues(MIN + '    authentication: {auth_type: PASS, auth_pass: "123456789"}\n    preempt: true\n    nopreempt: true\n');
    expect(out).toEqual([
      '6:5 vrrp_instances.VI_1.authentication: authentication is VRRPv2 only (RFC 5798 removed it); remove it or set version: 2',
      '6:50 vrrp_instances.VI_1.authentication.auth_pass: "123456789" is longer than 8 bytes (VRRPv2 carries 8); valid: a password of 1..8 characters',
      '8:5 vrrp_instances.VI_1.nopreempt: conflicts with preempt: true; valid: set only one of them',
    ]);
  });

  it('notify scripts must be absolute paths; interface names are checked', () => {
    expect(issues(MIN.replace('eth0', 'eth0:1') + '    notify_master: notify.sh\n')).toEqual([
      expect.stringMatching(/^3:16 .*interface: "eth0:1" is not a valid interface name/),
      expect.stringMatching(/^6:20 .*notify_master: "notify.sh" must be an absolute path/),
    ]);
  });

  it('sync groups: unknown member with a suggestion, a member in two groups', () => {
    const out = issues(`${MIN}vrrp_sync_groups:
  G1: {group: [VI_l]}
  G2: {group: [VI_1]}
  G3: {group: [VI_1]}
`);
    expect(out).toEqual([
      '7:16 vrrp_sync_groups.G1.group[0]: no VRRP instance "VI_l"; did you mean "VI_1"? valid: VI_1',
      '9:16 vrrp_sync_groups.G3.group[0]: instance "VI_1" is already in sync group "G2"; valid: an instance belongs to at most one group',
    ]);
  });

  it('YAML syntax errors carry their position', () => {
    expect(issues('vrrp_instances:\n  VI_1: {interface: eth0\n')[0]).toMatch(/^3:1 : YAML syntax error/);
  });

  it('an empty file, an unknown top-level key, a global typo', () => {
    expect(issues('# nothing\n')[0]).toMatch(/the file is empty/);
    expect(issues(MIN + 'virtual_server: {}\nglobal: {log_levle: debug}\n')).toEqual([
      expect.stringMatching(/^6:1 virtual_server: unknown key "virtual_server"; did you mean "virtual_servers"\? valid keys: global, vrrp_scripts, vrrp_track_files, vrrp_track_processes, vrrp_instances, vrrp_sync_groups, virtual_server_groups, virtual_servers, ipvs/),
      expect.stringMatching(/^7:10 global\.log_levle: unknown key "log_levle"; did you mean "log_level"\?/),
    ]);
  });

  it('the message is file:line:col: path: problem, every issue on its own line', () => {
    try {
      parseConfig(MIN + '    priority: 0\n    vrid: 51\n', '/etc/vipd/vipd.yaml');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message.split('\n')).toEqual([
        '/etc/vipd/vipd.yaml:6:15: vrrp_instances.VI_1.priority: 0 is out of range; valid: an integer 1..255',
        '/etc/vipd/vipd.yaml:7:5: vrrp_instances.VI_1.vrid: duplicate key "vrid"; each key may appear once',
      ]);
    }
  });

  it('a number where a string is expected says to quote it', () => {
    expect(issues(MIN.replace('interface: eth0', 'interface: 1234'))).toEqual([
      '3:16 vrrp_instances.VI_1.interface: expected an interface name (1..15 bytes, no "/", ":" or spaces), got number 1234; write it in quotes ("1234") to make it a string',
    ]);
  });

  it('virtual servers: keepalived/Octavia vocabulary, defaults, per-real-server overrides', () => {
    const c = parseConfig(
      `${MIN}virtual_servers:
  web:
    address: 192.0.2.100
    port: 80
    scheduler: ROUND_ROBIN
    session_persistence: SOURCE_IP
    real_servers:
      - {address: 10.0.0.2, weight: 3, connection_limit: 100}
      - {address: 10.0.0.3, forwarding: tunnel, tunnel: {type: gue, port: 6080, checksum: csum}}
  dns:
    address: "2001:db8::53"
    port: 53
    protocol: udp
    scheduler: sh
    scheduler_flags: [fallback, port]
    one_packet: true
    forwarding: dr
    real_servers: [{address: "2001:db8::10"}]
  marked:
    fwmark: 7
    scheduler: lc
    real_servers: [{address: 10.0.0.9}]
ipvs:
  timeouts: {tcp: 900, tcp_fin: 30, udp: 120}
  sync_daemon: {interface: eth1, sync_id: 5, instance: VI_1}
  drain_delay: 10
`,
      'f.yaml',
    );
    expect(c.virtualServers).toEqual([
      {
        name: 'web', family: 'inet', protocol: 'tcp', address: '192.0.2.100', port: 80, scheduler: 'wrr', schedFlags: { fallback: false, port: false },
        persistence: 360, netmask: '255.255.255.255', onePacket: false, inhibitOnFailure: false, alpha: false, omega: false, removeOnStop: false, notify: {}, quorum: 1, hysteresis: 0, sorryServerInhibit: false, adminUp: true, connectionLimit: 0, healthChecks: [], announce: false,
        realServers: [
          { address: '10.0.0.2', port: 80, weight: 3, upperThreshold: 100, lowerThreshold: 0, forwarding: 'nat', adminUp: true },
          { address: '10.0.0.3', port: 80, weight: 1, upperThreshold: 0, lowerThreshold: 0, forwarding: 'tunnel', tunnel: { type: 'gue', port: 6080, checksum: 'csum' }, adminUp: true },
        ],
      },
      {
        name: 'dns', family: 'inet6', protocol: 'udp', address: '2001:db8::53', port: 53, scheduler: 'sh', schedFlags: { fallback: true, port: true },
        persistence: 0, netmask: '128', onePacket: true, inhibitOnFailure: false, alpha: false, omega: false, removeOnStop: false, notify: {}, quorum: 1, hysteresis: 0, sorryServerInhibit: false, adminUp: true, connectionLimit: 0, healthChecks: [], announce: false,
        realServers: [{ address: '2001:db8::10', port: 53, weight: 1, upperThreshold: 0, lowerThreshold: 0, forwarding: 'dr', adminUp: true }],
      },
      {
        name: 'marked', family: 'inet', fwmark: 7, scheduler: 'lc', schedFlags: { fallback: false, port: false }, persistence: 0, netmask: '255.255.255.255', onePacket: false, inhibitOnFailure: false, alpha: false, omega: false, removeOnStop: false, notify: {}, quorum: 1, hysteresis: 0, sorryServerInhibit: false, adminUp: true, connectionLimit: 0, healthChecks: [], announce: false,
        realServers: [{ address: '10.0.0.9', port: 0, weight: 1, upperThreshold: 0, lowerThreshold: 0, forwarding: 'nat', adminUp: true }],
      },
    ]);
    expect(c.ipvs).toEqual({ timeouts: { tcp: 900, tcpFin: 30, udp: 120 }, syncDaemon: { interface: 'eth1', syncId: 5, instance: 'VI_1' }, drainMs: 10_000, flushOnStop: false, resyncMs: 60_000 });
  });

  it('virtual server errors: scheduler, family mix, duplicates, flags on the wrong scheduler, sync daemon instance', () => {
    const out = issues(`${MIN}virtual_servers:
  a:
    address: 192.0.2.100
    port: 80
    scheduler: roundrobin
    scheduler_flags: [fallback]
    real_servers: [{address: "2001:db8::1"}, {address: 10.0.0.2}, {address: 10.0.0.2}]
  b: {address: 192.0.2.100, port: 80, real_servers: []}
ipvs:
  sync_daemon: {interface: eth1, instance: VI_2}
`);
    expect(out).toEqual([
      '10:16 virtual_servers.a.scheduler: unknown scheduler "roundrobin"; did you mean "ROUND_ROBIN"? valid: rr | wrr | lc | wlc | sh | mh | sed | nq | dh | lblc | lblcr | fo | ovf | twos or ROUND_ROBIN | LEAST_CONNECTIONS | SOURCE_IP | SOURCE_IP_PORT',
      '11:5 virtual_servers.a.scheduler_flags: scheduler flags apply to sh and mh only, not roundrobin; remove them or use scheduler: sh',
      '12:30 virtual_servers.a.real_servers[0].address: 2001:db8::1 is not the same address family as the service (192.0.2.100); valid: a real server of the same family',
      '12:67 virtual_servers.a.real_servers[2]: 10.0.0.2:80 is listed twice; list each real server once',
      '13:3 virtual_servers.b: TCP 192.0.2.100:80 is already defined by virtual server "a"; valid: each service once',
      '15:44 ipvs.sync_daemon.instance: no VRRP instance "VI_2"; did you mean "VI_1"? valid: VI_1',
    ]);
  });

  it('a director without VRRP (virtual servers only) is valid', () => {
    expect(parseConfig('virtual_servers:\n  w: {address: 10.0.0.1, port: 80, real_servers: [{address: 10.0.0.2}]}\n', 'f.yaml').instances).toEqual([]);
  });

  it('loadConfig: a missing file says how to fix it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-cfg-'));
    expect(() => loadConfig(join(dir, 'nope.yaml'))).toThrow(/nope\.yaml:1:1: cannot read: ENOENT; create it .* or pass -c FILE/);
    writeFileSync(join(dir, 'ok.yaml'), MIN);
    expect(loadConfig(join(dir, 'ok.yaml')).instances[0]!.vrid).toBe(51);
  });
});
