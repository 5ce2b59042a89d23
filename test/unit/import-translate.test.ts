// keepalived.conf -> vipd.yaml: each keyword's translation, the report and the exit code.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { importKeepalived } from '../../src/import/keepalived/index.js';
import { parseConfig } from '../../src/config/parse.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-kat-'));
let n = 0;
function tr(text: string) {
  const file = join(dir, `k${n++}.conf`);
  writeFileSync(file, text);
  const r = importKeepalived(file, { configId: 'lb1' });
  // Report lines without the temp file's name: "line:col: keyword: kind: why".
  const report = r.report.filter((l) => l.startsWith(file)).map((l) => l.slice(file.length + 1));
  // What vipd's own check says of the result (lines on the output, "vipd.yaml:line:col: vipd check: ...").
  const checked = r.report.filter((l) => !l.startsWith(file));
  return { code: r.code, yaml: r.yaml ?? '', cfg: r.yaml ? (parse(r.yaml) as Record<string, any>) : {}, report, checked };
}
const inst = (body: string) => tr(`vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress { 192.0.2.1 }\n${body}\n}\n`);
const vs = (body: string, head = '192.0.2.1 80') => tr(`virtual_server ${head} {\n${body}\n}\n`);

describe('global_defs', () => {
  it('router_id, enable_script_security, vrrp_version as every instance\'s default, lvs_sync_daemon, lvs_timeouts', () => {
    const r = tr('global_defs {\n router_id lb1\n enable_script_security\n vrrp_version 3\n lvs_sync_daemon eth1 VI_1 5\n lvs_timeouts tcp 900 tcpfin 120 udp 300\n vrrp_garp_master_delay 2\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n}\n');
    expect(r.code).toBe(0);
    expect(r.cfg.global).toEqual({ router_id: 'lb1', enable_script_security: true, vrrp_garp_master_delay: 2 });
    expect(r.cfg.vrrp_instances.VI_1).toMatchObject({ version: 3 });
    expect(r.cfg.ipvs).toEqual({ sync_daemon: { interface: 'eth1', sync_id: 5, instance: 'VI_1' }, timeouts: { tcp: 900, tcp_fin: 120, udp: 300 } });
    expect(r.yaml).toContain("# keepalived's global_defs vrrp_version (vipd's default is 3)");
  });

  it('mail is reported with its position; script_user, the notify FIFOs and vrrp_check_unicast_src are translated', () => {
    const r = tr('global_defs {\n  script_user nobody nogroup\n  notification_email { a@b }\n  notify_fifo /run/k.fifo\n  vrrp_notify_fifo /run/kv.fifo nobody\n  vrrp_check_unicast_src\n}\n');
    expect(r.code).toBe(3);
    expect(r.cfg.global).toEqual({ script_user: 'nobody nogroup', notify_fifo: '/run/k.fifo', vrrp_notify_fifo: '/run/kv.fifo', vrrp_check_unicast_src: true });
    expect(r.report).toEqual([
      '3:3: notification_email: not translated: vipd sends no mail (notify scripts and the journal instead)',
      '5:33: nobody: note: vipd creates a missing FIFO as root with mode 0600; the owner "nobody" is not applied (create the FIFO beforehand to choose its owner)',
    ]);
  });
});

describe('vrrp_instance', () => {
  it('the basics, with keepalived\'s default version 2 written out and a comment naming the source', () => {
    const r = inst(' priority 150\n advert_int 2\n');
    expect(r.code).toBe(0);
    expect(r.cfg.vrrp_instances.VI_1).toEqual({ interface: 'eth0', vrid: 51, virtual_ipaddress: ['192.0.2.1'], priority: 150, advert_int: 2, version: 2 });
    expect(r.yaml).toMatch(/# vrrp_instance VI_1 from .*k\d+\.conf:1\n/);
    expect(r.yaml).toContain("# keepalived's default (vipd's default is 3)\n    version: 2");
  });

  it('state is a comment and a note, not left out', () => {
    const r = inst(' state MASTER\n');
    expect(r.code).toBe(0);
    expect(r.report).toEqual(['5:2: state: note: state MASTER: vipd has no start state, the priority decides (255 = address owner)']);
    expect(r.yaml).toContain('(state MASTER: no vipd equivalent, the priority decides)');
  });

  it('virtual_ipaddress lines: every ip-address option vipd has; autojoin reported; IPv6 in virtual_ipaddress_excluded', () => {
    const r = tr('vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1/24 dev eth1 label eth1:v no_track\n  10.0.0.2/24 brd 10.0.0.255 scope link noprefixroute\n  10.0.0.3 peer 10.0.0.4\n  10.0.0.5/24 autojoin\n }\n virtual_ipaddress_excluded {\n  2001:db8::1/64 home -nodad preferred_lft 0\n }\n}\n');
    expect(r.cfg.vrrp_instances.V.virtual_ipaddress).toEqual([
      { address: '10.0.0.1/24', device: 'eth1', label: 'eth1:v', no_track: true },
      { address: '10.0.0.2/24', brd: '10.0.0.255', scope: 'link', noprefixroute: true },
      { address: '10.0.0.3', peer: '10.0.0.4' },
      '10.0.0.5/24',
    ]);
    expect(r.cfg.vrrp_instances.V.virtual_ipaddress_excluded).toEqual([{ address: '2001:db8::1/64', home: true, nodad: false, preferred_lft: 0 }]);
    expect(r.code).toBe(3);
    expect(r.report).toEqual(['8:15: autojoin: not translated: virtual_ipaddress option "autojoin" is not supported by vipd (a multicast address cannot be a VIP)']);
  });

  it('track_file / vrrp_track_process blocks and their track lists; accept, no_accept, the GARP keys', () => {
    const r = tr('track_file prio {\n file /run/prio\n weight 5 reverse\n init_file 3 overwrite\n}\nvrrp_track_process haproxy {\n process /usr/sbin/haproxy -f /etc/haproxy.cfg\n param_match partial\n weight -30\n quorum 2\n quorum_max 4\n delay 0.5\n full_command\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress { 192.0.2.1 }\n no_accept\n garp_lower_prio_repeat 2\n garp_lower_prio_delay 1\n garp_master_refresh_repeat 2\n track_file {\n  prio weight 2\n }\n track_process {\n  haproxy\n }\n}\n');
    expect(r.report.filter((l) => l.includes('not translated'))).toEqual([]);
    expect(r.checked).toEqual([]);
    expect(r.cfg.vrrp_track_files).toEqual({ prio: { file: '/run/prio', weight: 5, reverse: true, init_file: { value: 3, overwrite: true } } });
    expect(r.cfg.vrrp_track_processes).toEqual({ haproxy: { process: ['/usr/sbin/haproxy', '-f', '/etc/haproxy.cfg'], param_match: 'partial', weight: -30, quorum: 2, quorum_max: 4, delay: 0.5, full_command: true } });
    expect(r.cfg.vrrp_instances.VI_1).toMatchObject({ no_accept: true, garp_lower_prio_repeat: 2, garp_lower_prio_delay: 1, garp_master_refresh_repeat: 2, track_file: [{ name: 'prio', weight: 2 }], track_process: ['haproxy'] });
  });

  it('an IPv6 instance: its VIPs, link-local source and IPv6 peers, unicast_ttl and check_unicast_src', () => {
    const r = tr('vrrp_instance V6 {\n interface eth0\n virtual_router_id 7\n version 3\n unicast_src_ip 2001:db8::2\n unicast_peer {\n  2001:db8::3\n }\n unicast_ttl 64\n check_unicast_src off\n virtual_ipaddress {\n  2001:db8::100/64\n }\n}\n');
    expect(r.code).toBe(0);
    expect(r.cfg.vrrp_instances.V6).toMatchObject({ version: 3, unicast_src_ip: '2001:db8::2', unicast_peer: ['2001:db8::3'], unicast_ttl: 64, check_unicast_src: false, virtual_ipaddress: ['2001:db8::100/64'] });
  });

  it('unicast, authentication, preemption, lower_prio_no_advert, track_interface, garp, routes and rules', () => {
    const r = inst(' unicast_src_ip 10.0.0.1\n unicast_peer {\n  10.0.0.2\n }\n authentication {\n  auth_type PASS\n  auth_pass secret\n }\n nopreempt\n preempt_delay 30\n lower_prio_no_advert\n track_interface {\n  eth1\n  eth2 weight -20\n  eth3 weight 10 reverse\n }\n garp_master_repeat 3\n garp_interval 0.1\n garp_master_refresh 60\n virtual_routes {\n  192.0.2.0/24 via 10.0.0.254 dev eth0\n }\n virtual_rules {\n  from 192.0.2.1 table 100\n }\n');
    expect(r.code).toBe(0);
    expect(r.cfg.vrrp_instances.VI_1).toMatchObject({
      unicast_src_ip: '10.0.0.1', unicast_peer: ['10.0.0.2'], authentication: { auth_type: 'PASS', auth_pass: 'secret' }, preempt: false, preempt_delay: 30,
      answer_lower_priority: false, track_interface: ['eth1', { name: 'eth2', weight: -20 }, { name: 'eth3', weight: 10, reverse: true }], garp_master_repeat: 3, garp_interval: 0.1, garp_master_refresh: 60,
      virtual_routes: ['192.0.2.0/24 via 10.0.0.254 dev eth0'], virtual_rules: ['from 192.0.2.1 table 100'],
    });
  });

  it('a virtual_routes line vipd cannot take (multipath) is reported at its word and left out', () => {
    const r = inst(' virtual_routes {\n  192.0.2.0/24 via 10.0.0.1 dev eth0\n  10.9.0.0/16 via 10.0.0.1 or 10.0.0.2\n }\n');
    expect(r.cfg.vrrp_instances.VI_1.virtual_routes).toEqual(['192.0.2.0/24 via 10.0.0.1 dev eth0']);
    expect(r.report).toEqual(['7:28: or: not translated: virtual_routes: multipath routes ("or") are not supported; valid: one gateway per route']);
  });

  it('notify scripts: command lines with their arguments (keepalived\'s quoting) and their user and group', () => {
    const r = inst(' notify_master /bin/true\n notify_backup "/bin/echo \'two words\' BACKUP"\n notify_fault /bin/true root root\n notify /bin/true x y z\n');
    const i = r.cfg.vrrp_instances.VI_1;
    expect(i.notify_master).toBe('/bin/true');
    expect(i.notify_backup).toBe("/bin/echo 'two words' BACKUP");
    expect(i.notify_fault).toEqual({ command: '/bin/true', user: 'root', group: 'root' });
    expect(r.report).toEqual(['8:23: z: not translated: extra word(s) after notify COMMAND [USER [GROUP]]']);
    expect(r.checked).toEqual([expect.stringMatching(/vipd check: vrrp_instances.VI_1.notify.user: no user "x"/)]);
  });

  it('vrrp_script and track_script (weights, reverse, sync groups); unknown keywords are reported, everything else still written', () => {
    const r = tr('vrrp_script chk {\n script "/usr/bin/killall -0 haproxy"\n interval 2\n timeout 1\n weight -20 reverse\n rise 2\n fall 3\n user root root\n init_fail\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress { 192.0.2.1 }\n track_script {\n  chk\n  chk weight 5 noreverse\n }\n use_vmac\n}\nvrrp_sync_group G {\n group { VI_1 }\n track_script {\n  chk weight 0\n }\n}\n');
    expect(r.code).toBe(3);
    expect(r.report).toEqual([
      "8:12: root: not translated: vipd runs a vrrp_script with root's primary group; a group of its own (\"root\") is not supported",
      '19:2: use_vmac: not translated: vipd has no VMAC interfaces',
    ]);
    expect(r.cfg.vrrp_scripts.chk).toEqual({ script: '/usr/bin/killall -0 haproxy', interval: 2, timeout: 1, weight: -20, reverse: true, rise: 2, fall: 3, user: 'root', init_fail: true });
    expect(r.cfg.vrrp_instances.VI_1.track_script).toEqual(['chk', { name: 'chk', weight: 5, reverse: false }]);
    expect(r.cfg.vrrp_sync_groups.G.track_script).toEqual([{ name: 'chk', weight: 0 }]);
    expect(r.yaml).toMatch(/^# NOT COMPLETE: 2 part\(s\) left out:\n# {3}.*:8:12: root: /m);
    expect(r.yaml).toMatch(/# vrrp_script chk from .*:1\n/);
    expect(r.checked).toEqual([]);
  });

  it('authentication with VRRPv3 and a sub-second advert_int with VRRPv2 are reported (vipd refuses both)', () => {
    const r = tr('global_defs {\n vrrp_version 3\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1 }\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 2\n version 2\n advert_int 0.5\n virtual_ipaddress { 10.0.0.2 }\n}\n');
    expect(r.report).toEqual([
      '8:2: authentication: not translated: authentication is VRRPv2 only (RFC 5798 removed it) and this instance speaks VRRPv3',
      '17:13: 0.5: not translated: advert_int 0.5: VRRPv2 counts whole seconds (use version 3 for sub-second adverts)',
    ]);
    expect(r.cfg.vrrp_instances.A.authentication).toBeUndefined();
    expect(r.cfg.vrrp_instances.B.advert_int).toBeUndefined();
  });

  it('the result is checked as vipd check would: a missing script is a report line on the output, exit 3', () => {
    const r = inst(' notify_master /nonexistent/notify.sh\n');
    expect(r.code).toBe(3);
    expect(r.checked).toEqual([expect.stringMatching(/^vipd.yaml:\d+:\d+: vipd check: vrrp_instances.VI_1.notify_master: script \/nonexistent\/notify.sh does not exist/)]);
  });

  it('vrrp_sync_group', () => {
    const r = tr('vrrp_sync_group G {\n group {\n  A\n  B\n }\n notify_master /bin/true\n}\n');
    expect(r.cfg.vrrp_sync_groups).toEqual({ G: { group: ['A', 'B'], notify_master: '/bin/true' } });
  });
});

describe('virtual_server', () => {
  it('address service: scheduler, forwarding, persistence (default 360), protocol, quorum, sorry server, flags', () => {
    const r = vs(' lb_algo sh\n sh-port\n lb_kind DR\n persistence_timeout\n persistence_granularity 255.255.255.0\n protocol UDP\n ops\n quorum 2\n hysteresis 1\n alpha\n inhibit_on_failure\n sorry_server 10.0.0.9 8080\n sorry_server_lvs_method NAT\n real_server 10.0.0.1 8080 {\n  weight 2\n  uthreshold 100\n  lthreshold 50\n  lvs_method TUN\n }\n');
    expect(r.code).toBe(0);
    expect(r.report).toContain('1:1: virtual_server: note: direct routing and tunnels deliver to the service\'s port 80: real server port 8080 dropped');
    expect(r.cfg.virtual_servers['192.0.2.1-80-udp']).toEqual({
      address: '192.0.2.1', port: 80, scheduler: 'sh', scheduler_flags: ['port'], forwarding: 'dr', persistence_timeout: 360, persistence_netmask: '255.255.255.0',
      protocol: 'udp', one_packet: true, quorum: 2, hysteresis: 1, alpha: true, inhibit_on_failure: true, sorry_server: { address: '10.0.0.9', port: 8080, forwarding: 'nat' },
      real_servers: [{ address: '10.0.0.1', weight: 2, upper_threshold: 100, lower_threshold: 50, forwarding: 'tunnel' }],
    });
  });

  it('fwmark service, its check on the real servers\' one port', () => {
    const r = vs(' real_server 10.0.0.1 443 {\n  TCP_CHECK {\n  }\n }\n', 'fwmark 7');
    expect(r.cfg.virtual_servers['fwmark-7']).toMatchObject({ fwmark: 7, health_check: { type: 'TCP', port: 443, delay: 60, timeout: 5, max_retries: 1, max_retries_down: 2 } });
  });

  it('omega and sorry_server_inhibit mean what they mean in keepalived: translated', () => {
    const r = vs(' omega\n sorry_server 10.0.0.9 80\n sorry_server_inhibit\n real_server 10.0.0.1 80 {\n }\n');
    expect(r.code).toBe(0);
    expect(r.cfg.virtual_servers['192.0.2.1-80-tcp']).toMatchObject({ omega: true, sorry_server: { address: '10.0.0.9', port: 80 }, sorry_server_inhibit: true });
  });

  it('HTTP_GET: url path, status codes, digest, virtualhost, timings layered VS < RS < checker; retry with delay_before_retry', () => {
    const rs = (a: string) => ` real_server ${a} 80 {\n  connect_timeout 4\n  HTTP_GET {\n   url {\n    path /ok\n    status_code 200-299 301\n    digest 9B3A0C85A887A256D6939DA88AABD8CD\n   }\n   url {\n    path /two\n    virtualhost two.example.com\n   }\n   retry 2\n   delay_before_retry 0.5\n  }\n }\n`;
    const r = vs(` delay_loop 10\n virtualhost www.example.com\n${rs('10.0.0.1')}${rs('10.0.0.2')}`);
    expect(r.code).toBe(0);
    expect(r.cfg.virtual_servers['192.0.2.1-80-tcp'].health_check).toEqual({
      type: 'HTTP', delay: 10, timeout: 4, max_retries: 1, max_retries_down: 3, delay_before_retry: 0.5, domain_name: 'www.example.com', http_protocol: '1.0',
      urls: [{ path: '/ok', status_code: '200-299, 301', digest: '9b3a0c85a887a256d6939da88aabd8cd' }, { path: '/two', virtualhost: 'two.example.com' }],
    });
    expect(r.report).toEqual([]);
    // One url without a digest: Octavia's keys; keepalived's delay_before_retry default for HTTP_GET (3 s) written out.
    const one = vs(' real_server 10.0.0.1 80 {\n  HTTP_GET {\n   url {\n    path /ok\n   }\n  }\n }\n');
    expect(one.cfg.virtual_servers['192.0.2.1-80-tcp'].health_check).toMatchObject({ url_path: '/ok', expected_codes: '200-299', max_retries_down: 2, delay_before_retry: 3 });
  });

  it("http_protocol: translated (1.0c as 1.0C); keepalived's default 1.0 written out; a value keepalived refuses is reported", () => {
    const check = (kw: string) => vs(` real_server 10.0.0.1 80 {\n  HTTP_GET {\n${kw}   url {\n    path /\n   }\n  }\n }\n`);
    for (const [kw, want] of [['1.1', '1.1'], ['1.0c', '1.0C'], ['1.0C', '1.0C'], ['1.0', '1.0']]) {
      const r = check(`   http_protocol ${kw}\n`);
      expect(r.code).toBe(0);
      expect(r.cfg.virtual_servers['192.0.2.1-80-tcp'].health_check.http_protocol).toBe(want);
      expect(r.yaml).toMatch(new RegExp(`http_protocol: (${want}|"${want}")\n`));
      expect(r.report).toEqual([]);
      expect(parseConfig(r.yaml, 'out.yaml').virtualServers[0]!.healthChecks[0]!.httpProtocol).toBe(want);
    }
    expect(check('').cfg.virtual_servers['192.0.2.1-80-tcp'].health_check.http_protocol).toBe('1.0');
    const bad = check('   http_protocol 2\n');
    expect(bad.code).toBe(3);
    expect(bad.report).toEqual(['4:18: 2: not translated: http_protocol "2" is not one of keepalived\'s: 1.0 | 1.0C | 1.1']);
  });

  it('SSL_GET with enable_sni, PING_CHECK, default status 200-299', () => {
    const r = vs(' virtualhost a.example\n real_server 10.0.0.1 443 {\n  SSL_GET {\n   enable_sni\n   url {\n    path /\n   }\n  }\n }\n', '192.0.2.1 443');
    expect(r.cfg.virtual_servers['192.0.2.1-443-tcp'].health_check).toMatchObject({ type: 'HTTPS', sni: 'a.example', expected_codes: '200-299', domain_name: 'a.example' });
    expect(vs(' real_server 10.0.0.1 80 {\n  PING_CHECK {\n  }\n }\n').cfg.virtual_servers['192.0.2.1-80-tcp'].health_check.type).toBe('PING');
  });

  it('MISC_CHECK: the real server\'s address and port become {address} {port}; misc_timeout; misc_dynamic', () => {
    const rs = (a: string) => ` real_server ${a} 80 {\n  MISC_CHECK {\n   misc_path "/bin/true ${a} 80"\n   misc_timeout 3\n   misc_dynamic\n  }\n }\n`;
    const r = vs(` delay_loop 5\n${rs('10.0.0.1')}${rs('10.0.0.2')}`);
    expect(r.code).toBe(0);
    expect(r.cfg.virtual_servers['192.0.2.1-80-tcp'].health_check).toEqual({ type: 'SCRIPT', delay: 5, timeout: 3, max_retries: 1, max_retries_down: 1, script: '/bin/true {address} {port}', misc_dynamic: true });
    expect(r.report).toEqual([]);
  });

  it('several checkers per real server, checkers that differ, an unchecked real server: each real server keeps its own', () => {
    const r = vs(' real_server 10.0.0.1 80 {\n  TCP_CHECK {\n  }\n  PING_CHECK {\n  }\n }\n real_server 10.0.0.2 80 {\n  TCP_CHECK {\n   connect_timeout 1\n   connect_ip 10.0.9.2\n   bindto 10.0.0.254\n  }\n }\n real_server 10.0.0.3 80 {\n }\n');
    expect(r.code).toBe(0);
    const v = r.cfg.virtual_servers['192.0.2.1-80-tcp'];
    expect(v.health_check).toBeUndefined();
    expect(v.real_servers.map((x: { health_checks?: { type: string }[] }) => x.health_checks?.map((c) => c.type))).toEqual([['TCP', 'PING'], ['TCP'], undefined]);
    expect(v.real_servers[1].health_checks[0]).toMatchObject({ timeout: 1, connect_ip: '10.0.9.2', bindto: '10.0.0.254', delay_before_retry: 1 });
    // Every real server checked the same way by two checkers: the list goes to the virtual server.
    const same = vs(' real_server 10.0.0.1 80 {\n  TCP_CHECK {\n  }\n  PING_CHECK {\n  }\n }\n real_server 10.0.0.2 80 {\n  TCP_CHECK {\n  }\n  PING_CHECK {\n  }\n }\n');
    expect(same.cfg.virtual_servers['192.0.2.1-80-tcp'].health_checks.map((c: { type: string }) => c.type)).toEqual(['TCP', 'PING']);
    for (const x of [r, same]) expect(() => parseConfig(x.yaml, 'out.yaml')).not.toThrow();
  });

  it('UDP_CHECK, DNS_CHECK, SMTP_CHECK translate with keepalived\'s retry defaults; FILE_CHECK names the translated track_file', () => {
    const r = tr('track_file f {\n file /run/w\n}\nvirtual_server 192.0.2.1 53 {\n' + ' real_server 10.0.0.1 53 {\n  UDP_CHECK {\n   payload 0102 03\n   require_reply 01xx\n   max_reply_length 64\n  }\n  DNS_CHECK {\n   type A\n   name www.example.com\n  }\n  SMTP_CHECK {\n   helo_name lb1.example.com\n   connect_port 25\n  }\n  FILE_CHECK {\n   track_file f\n   weight 5 reverse\n  }\n }\n}\n');
    const [udp, dns, smtp, file] = r.cfg.virtual_servers['192.0.2.1-53-tcp'].health_checks;
    expect(udp).toMatchObject({ type: 'UDP', payload: '0102 03', require_reply: '01xx', max_reply_length: 64, max_retries_down: 2 });
    expect(dns).toMatchObject({ type: 'DNS', dns_type: 'A', dns_name: 'www.example.com', max_retries_down: 4, delay_before_retry: 60 });
    expect(smtp).toMatchObject({ type: 'SMTP', helo_name: 'lb1.example.com', port: 25 });
    expect(file).toEqual({ type: 'FILE', track_file: 'f', weight: 5, reverse: true });
    expect(r.checked).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report).toEqual([]);
    expect(parseConfig(r.yaml, 'out.yaml').virtualServers[0]!.healthChecks[3]).toMatchObject({ type: 'file', file: '/run/w', fileWeight: 5, fileReverse: true });
  });

  it('connection options: bind_port, bind_if, fwmark and warmup (virtual server, real server, checker) translate, on HTTP_GET too; on MISC_CHECK they are reported', () => {
    const r = tr('track_file f {\n file /run/w\n}\nvirtual_server 192.0.2.1 53 {\n warmup 7\n real_server 10.0.0.1 53 {\n  warmup 5\n  TCP_CHECK {\n   bind_port 40000\n   bind_if eth1\n   fwmark 42\n  }\n  DNS_CHECK {\n   warmup 0\n   fwmark 0\n  }\n  PING_CHECK {\n   bind_if eth1\n  }\n  HTTP_GET {\n   bind_port 40001\n  }\n  MISC_CHECK {\n   misc_path /bin/true\n   fwmark 3\n  }\n  FILE_CHECK {\n   track_file f\n   dynamic\n   weight 2\n  }\n }\n}\n');
    const [tcp, dns, ping, http, , file] = r.cfg.virtual_servers['192.0.2.1-53-tcp'].health_checks;
    expect(tcp).toMatchObject({ type: 'TCP', bind_port: 40000, bind_if: 'eth1', fwmark: 42, warmup: 5 });
    expect(dns).toMatchObject({ type: 'DNS', warmup: 0 });
    expect(dns.fwmark).toBeUndefined();
    expect(ping).toMatchObject({ type: 'PING', bind_if: 'eth1' });
    expect(http).toMatchObject({ type: 'HTTP', bind_port: 40001 });
    expect(file).toEqual({ type: 'FILE', track_file: 'f', weight: 2 });
    expect(r.report).toEqual([
      "6:2: real_server: note: vipd passes the real server's address and port as two more arguments",
      "25:4: fwmark: not translated: keepalived's MISC_CHECK has no connection options either; vipd sets fwmark on TCP_CHECK, HTTP_GET, SSL_GET, UDP_CHECK, DNS_CHECK, SMTP_CHECK, PING_CHECK",
    ]);
    expect(r.checked).toEqual([]);
    const hcs = parseConfig(r.yaml, 'out.yaml').virtualServers[0]!.healthChecks;
    expect(hcs[0]).toMatchObject({ bindPort: 40000, bindIf: 'eth1', fwmark: 42, warmupMs: 5000 });
    expect(hcs[hcs.length - 1]).toMatchObject({ type: 'file', fileWeight: 2 });
  });

  it('the global SSL block: every SSL_GET gets its client certificate and CA file (keepalived verifies nothing: verify false); password is reported', () => {
    const r = tr('virtual_server 192.0.2.1 443 {\n real_server 10.0.0.1 443 {\n  SSL_GET {\n   url {\n    path /\n   }\n  }\n }\n real_server 10.0.0.2 443 {\n  SSL_GET {\n   url {\n    path /health\n   }\n  }\n  TCP_CHECK {\n  }\n }\n}\nSSL {\n password secret\n ca /etc/keepalived/ca.pem\n certificate /etc/keepalived/client.pem\n key /etc/keepalived/client.key\n}\n');
    const rss = r.cfg.virtual_servers['192.0.2.1-443-tcp'].real_servers;
    const both = { cert_file: '/etc/keepalived/client.pem', key_file: '/etc/keepalived/client.key', ca_file: '/etc/keepalived/ca.pem', verify: false };
    expect(rss[0].health_checks[0]).toMatchObject({ type: 'HTTPS', url_path: '/', ...both });
    expect(rss[1].health_checks[0]).toMatchObject({ type: 'HTTPS', url_path: '/health', ...both });
    expect(rss[1].health_checks[1].cert_file).toBeUndefined();
    expect(r.report).toEqual([
      "19:1: SSL: note: keepalived loads ca but does not verify the server's certificate: the checks keep verify: false (set verify: true to verify against ca_file)",
      '20:2: password: not translated: vipd reads an unencrypted key only: decrypt it (openssl pkey -in KEY -out NEW_KEY) and keep NEW_KEY root-only',
    ]);
    expect(r.checked).toEqual([]);
    expect(parseConfig(r.yaml, 'out.yaml').virtualServers[0]!.realServers[0]!.healthChecks![0]).toMatchObject({ type: 'https', certFile: '/etc/keepalived/client.pem', keyFile: '/etc/keepalived/client.key', caFile: '/etc/keepalived/ca.pem', verify: false });
    const half = tr('SSL {\n certificate client.pem\n}\n');
    expect(half.report).toEqual(['2:14: client.pem: not translated: certificate "client.pem" is not an absolute path (vipd needs one; keepalived read it from its working directory)']);
  });

  it('notify_up/notify_down shared by every real server move to the virtual server; differing ones are reported', () => {
    const same = vs(' real_server 10.0.0.1 80 {\n  notify_up /bin/true\n }\n real_server 10.0.0.2 80 {\n  notify_up /bin/true\n }\n');
    expect(same.cfg.virtual_servers['192.0.2.1-80-tcp'].notify_up).toBe('/bin/true');
    const diff = vs(' real_server 10.0.0.1 80 {\n  notify_up /bin/true\n }\n real_server 10.0.0.2 80 {\n  notify_up /bin/false\n }\n');
    expect(diff.code).toBe(3);
    expect(diff.report.filter((l) => l.includes('not translated'))).toHaveLength(2);
  });

  it('a timeout not below the delay is lowered, with a note', () => {
    const r = vs(' delay_loop 2\n real_server 10.0.0.1 80 {\n  TCP_CHECK {\n  }\n }\n');
    expect(r.cfg.virtual_servers['192.0.2.1-80-tcp'].health_check).toMatchObject({ delay: 2, timeout: 1.8 });
    expect(r.report).toEqual(['4:3: TCP_CHECK: note: timeout 5 s is not below delay_loop 2 s, which vipd requires: timeout 1.8 s']);
  });

  it('virtual_server_group and virtual_server group: the lines as they are, one virtual server for them all', () => {
    const r = tr('virtual_server_group G {\n 192.0.2.1-3 80\n fwmark 5\n}\nvirtual_server group G {\n lb_kind DR\n persistence_timeout 60\n real_server 10.0.0.1 80 {\n }\n}\n');
    expect(r.code).toBe(0);
    expect(r.cfg.virtual_server_groups).toEqual({ G: ['192.0.2.1-3 80', 'fwmark 5'] });
    expect(r.cfg.virtual_servers['group-G-tcp']).toMatchObject({ group: 'G', forwarding: 'dr', real_servers: [{ address: '10.0.0.1' }] });
    expect(r.yaml).toMatch(/# virtual_server_group G from .*:1\n/);
  });
});

describe('exit codes', () => {
  it('2 with file:line:col for invalid keepalived syntax', () => {
    const r = tr('vrrp_instance A {\n');
    expect(r.code).toBe(2);
    expect(r.report).toEqual(['1:17: unbalanced "{": this block is never closed (invalid keepalived syntax)']);
  });
});
