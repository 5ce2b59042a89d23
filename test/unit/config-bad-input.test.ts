// Bad input to the daemon itself (issue 17 §5), the config half: a config file
// that is no regular file or too big, socket paths and names too long in bytes,
// scripts that are missing, not executable or changeable by non-root, and a
// duplicate check that stays linear for 160,000 real servers.

import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/reader.js';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { readConfigFile } from '../../src/config/read.js';
import { controlSocketOf, DEFAULT_CONTROL_SOCKET } from '../../src/config/socket.js';
import { configIssues } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-badinput-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const issues = configIssues;

function loadError(file: string): string {
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const MIN = `vrrp_instances:
  VI_1:
    interface: eth0
    vrid: 51
    virtual_ipaddress: [192.0.2.100/24]
`;

function script(name: string, mode = 0o755): string {
  const p = join(dir, name);
  writeFileSync(p, '#!/bin/sh\nexit 0\n');
  chmodSync(p, mode);
  return p;
}

describe('the config file is read only if it is a regular file under the size limit', () => {
  it('a FIFO is an error at once, not a hang', () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const t0 = performance.now();
    expect(loadError(fifo)).toBe(`${fifo}:1:1: a FIFO, not a regular file; valid: a regular file of at most 64 MiB (pass -c FILE)`);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(controlSocketOf(fifo)).toBe(DEFAULT_CONTROL_SOCKET); // the CLI's socket lookup does not hang either
  });

  it('/dev/zero and a directory are errors, not 1.5 GB of memory', () => {
    expect(loadError('/dev/zero')).toBe('/dev/zero:1:1: a character device, not a regular file; valid: a regular file of at most 64 MiB (pass -c FILE)');
    expect(controlSocketOf('/dev/zero')).toBe(DEFAULT_CONTROL_SOCKET);
    expect(loadError(dir)).toMatch(/:1:1: a directory, not a regular file/);
  });

  it('a file over the limit is refused before it is read', () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, MIN + '#'.repeat(100));
    expect(readConfigFile(big, 1 << 20)).toContain('VI_1');
    expect(() => readConfigFile(big, 64)).toThrow(/^\d+ bytes is over the limit of 64 bytes/);
  });
});

describe('lengths are counted in bytes, as the kernel counts them', () => {
  it('a control_socket longer than sun_path allows is an error at its position', () => {
    const long = `/run/${'x'.repeat(103)}`; // 108 bytes: no room for the NUL
    expect(issues(`global:\n  control_socket: ${long}\n${MIN}`)).toEqual([
      `2:19 global.control_socket: 108 bytes is longer than a unix socket path can be (sun_path: 107 bytes and a NUL); valid: an absolute path of at most 107 bytes`,
    ]);
    expect(() => parseConfig(`global:\n  control_socket: ${long.slice(0, -1)}\n${MIN}`, 'f.yaml')).not.toThrow();
    // é is 2 bytes: 54 of them are 108 bytes in 54 characters
    expect(issues(`global:\n  control_socket: /${'é'.repeat(54)}\n${MIN}`)[0]).toMatch(/^2:19 global.control_socket: 109 bytes is longer/);
  });

  it('a label of "eth0:" and 8 é is 21 bytes in 13 characters: rejected at its position; an interface name too', () => {
    const vip = (label: string) => MIN.replace('[192.0.2.100/24]', `[{address: 192.0.2.100/24, label: "${label}"}]`);
    expect(issues(vip(`eth0:${'é'.repeat(8)}`))).toEqual([
      `5:58 vrrp_instances.VI_1.virtual_ipaddress[0].label: label "eth0:${'é'.repeat(8)}" must start with "eth0:" and be at most 15 bytes (it is 21) (a Linux rule, IFNAMSIZ); valid: e.g. eth0:vip`,
    ]);
    expect(() => parseConfig(vip('eth0:é12345678'), 'f.yaml')).not.toThrow(); // 15 bytes
    expect(issues(MIN.replace('interface: eth0', `interface: ${'é'.repeat(8)}`))).toEqual([
      `3:16 vrrp_instances.VI_1.interface: "${'é'.repeat(8)}" is 16 bytes long, over the kernel's 15 (IFNAMSIZ); valid: an interface name (1..15 bytes, no "/", ":" or spaces)`,
    ]);
    expect(() => parseConfig(MIN.replace('interface: eth0', `interface: ${'é'.repeat(7)}x`), 'f.yaml')).not.toThrow();
  });
});

describe('scripts must exist and be executable, always', () => {
  it('a missing, a non-executable and a directory script: each at its position, for every kind of script key', () => {
    const ok = script('ok.sh');
    const noexec = script('noexec.sh', 0o644);
    const missing = join(dir, 'missing.sh');
    const text = `${MIN}    notify_master: ${missing}
    notify_backup: ${noexec}
    notify: ${ok}
vrrp_sync_groups:
  G1: {group: [VI_1], notify_fault: ${dir}}
virtual_servers:
  web:
    address: 192.0.2.1
    port: 80
    real_servers: [{address: 10.0.0.1}]
    health_check: {type: SCRIPT, script: ${missing} --fast}
    notify_up: ${ok}
    notify_down: ${noexec}
    quorum_up: ${missing}
    quorum_down: ${ok}
`;
    expect(issues(text)).toEqual([
      `6:20 vrrp_instances.VI_1.notify_master: script ${missing} does not exist; valid: an executable file (create it or correct the path)`,
      `7:20 vrrp_instances.VI_1.notify_backup: script ${noexec} is not executable; valid: an executable file (chmod +x ${noexec})`,
      `10:37 vrrp_sync_groups.G1.notify_fault: ${dir} is not a file but a directory; valid: an executable file`,
      `16:42 virtual_servers.web.health_check.script: script ${missing} does not exist; valid: an executable file (create it or correct the path)`,
      `18:18 virtual_servers.web.notify_down: script ${noexec} is not executable; valid: an executable file (chmod +x ${noexec})`,
      `19:16 virtual_servers.web.quorum_up: script ${missing} does not exist; valid: an executable file (create it or correct the path)`,
    ]);
  });

  it('a script removed after a load is found at the next load of the same text (no stale cache)', () => {
    const s = script('goes-away.sh');
    const file = join(dir, 'goes-away.yaml');
    writeFileSync(file, `${MIN}    notify: ${s}\n`);
    expect(loadConfig(file).instances[0]!.notify.any?.argv).toEqual([s]);
    rmSync(s);
    expect(loadError(file)).toBe(`${file}:6:13: vrrp_instances.VI_1.notify: script ${s} does not exist; valid: an executable file (create it or correct the path)`);
  });
});

describe('enable_script_security (keepalived: no script a non-root user could change)', () => {
  const secured = (s: string, on = true) => `global: {enable_script_security: ${on}}\n${MIN}    notify: ${s}\n`;

  it('is off by default, as in keepalived, and must be true or false', () => {
    expect(parseConfig(MIN, 'f.yaml').global.enableScriptSecurity).toBe(false);
    expect(issues(`global: {enable_script_security: yes}\n${MIN}`)[0]).toMatch(/^1:34 global.enable_script_security: expected true or false/);
  });

  it('refuses a world-writable script, and one in a directory a non-root user owns', () => {
    const sub = join(dir, 'sec');
    mkdirSync(sub, { mode: 0o755 });
    const s = join(sub, 'notify.sh');
    writeFileSync(s, '#!/bin/sh\n');
    chmodSync(s, 0o757);
    const out = issues(secured(s));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^7:13 vrrp_instances\.VI_1\.notify: script .* could be changed by a non-root user \(.*\) and enable_script_security is on; valid: a script only root can change/);
    if (process.getuid!() !== 0) return; // the rest needs root to own and give away files
    expect(out[0]).toContain(`(${s} is writable by everyone (mode 757))`);
    expect(() => parseConfig(secured(s, false), 'f.yaml')).not.toThrow(); // off: allowed
    chmodSync(s, 0o755);
    expect(parseConfig(secured(s), 'f.yaml').global.enableScriptSecurity).toBe(true);
    chownSync(sub, 65534, 65534);
    expect(issues(secured(s))[0]).toContain(`(${sub} is owned by uid 65534, not root)`);
    chownSync(sub, 0, 0);
    chmodSync(sub, 0o775);
    chownSync(sub, 0, 65534);
    expect(issues(secured(s))[0]).toContain(`(${sub} is writable by group 65534 (mode 775))`);
    chownSync(sub, 0, 0); // group root may write: allowed, as keepalived allows it
    expect(() => parseConfig(secured(s), 'f.yaml')).not.toThrow();
  });
});

describe('the duplicate real-server check is a lookup, not a scan', () => {
  it('160,000 real servers validate in well under 10 s (or 3 YAML parses on a loaded machine) beyond the YAML parse (the quadratic check took minutes)', () => {
    const n = 160_000;
    const l = ['virtual_servers:', '  web:', '    address: 192.0.2.1', '    port: 80', '    real_servers:'];
    for (let i = 0; i < n; i++) l.push(`      - address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    l.push('      - address: 10.0.0.7'); // one duplicate, at the very end
    const text = `${l.join('\n')}\n`;
    const t0 = performance.now();
    parseDocument(text, { lineCounter: new LineCounter(), uniqueKeys: false }); // the YAML library's share, measured apart
    const yamlMs = performance.now() - t0;
    const t1 = performance.now();
    const out = issues(text);
    const validateMs = performance.now() - t1 - yamlMs;
    expect(out).toEqual([`${n + 6}:9 virtual_servers.web.real_servers[${n}]: 10.0.0.7:80 is listed twice; list each real server once`]);
    // Linear: a fraction of the YAML parse (~4 s here unloaded). Quadratic: over 60 s, 15 times the YAML parse.
    // The bound scales with the YAML time, so a loaded machine (both measured back to back) cannot make it flake.
    expect(validateMs).toBeLessThan(Math.max(10_000, 3 * yamlMs));
  }, 120_000);
});
