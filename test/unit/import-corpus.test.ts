// The keepalived.conf corpus (test/import/corpus): each file imports with its exit code and
// report, and vipd's own parser accepts the result; then the CLI end to end (needs the build).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { importKeepalived } from '../../src/import/keepalived/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const corpus = join(root, 'test/import/corpus');

const cases: Array<[file: string, code: number, report: string[]]> = [
  ['dr-http.conf', 0, ['dr-http.conf:7:5: state: note: state MASTER']],
  ['nat-misc.conf', 0, []],
  ['fwmark.conf', 0, ['fwmark.conf:24:1: virtual_server: note: direct routing and tunnels deliver to each packet\'s own port: real server port 53 dropped']],
  ['group.conf', 0, []],
  ['unicast-track.conf', 0, []],
  ['templated.conf', 0, []],
];

describe('keepalived.conf corpus', () => {
  it.each(cases)('%s imports with exit %i and vipd accepts the result', (file, code, report) => {
    const r = importKeepalived(join(corpus, file), { configId: 'lb1' });
    expect(r.code).toBe(code);
    const lines = r.report.map((l) => l.slice(corpus.length + 1));
    for (const want of report) expect(lines.some((l) => l.startsWith(want)), `${want}\nin:\n${lines.join('\n')}`).toBe(true);
    if (code === 0) expect(lines.every((l) => !l.includes('not translated'))).toBe(true);
    const cfg = parseConfig(r.yaml!, join(corpus, `${file}.yaml`));
    expect(cfg.instances.length + cfg.virtualServers.length).toBeGreaterThan(0);
  });

  it('templated.conf: conditionals, definitions, ~SEQ and the include follow the config id', () => {
    const lb1 = parseConfig(importKeepalived(join(corpus, 'templated.conf'), { configId: 'lb1' }).yaml!, 'x.yaml');
    const lb2 = parseConfig(importKeepalived(join(corpus, 'templated.conf'), { configId: 'lb2' }).yaml!, 'x.yaml');
    expect(lb1.global.routerId).toBe('lb1');
    expect(lb2.global.routerId).toBe('lb2');
    expect(lb1.instances[0]).toMatchObject({ priority: 200, version: 3, advertIntervalCs: 50, unicastPeers: ['10.4.0.2'], interface: 'eth0' });
    expect(lb2.instances[0]).toMatchObject({ priority: 100, unicastPeers: ['10.4.0.1'] });
    expect(lb1.instances[0]!.virtualIps.map((v) => v.address)).toEqual(['10.4.0.100', '10.4.0.101', '10.4.0.102']);
    expect(lb1.virtualServers[0]!.realServers.map((r) => r.address)).toEqual(['10.4.0.21', '10.4.0.22']);
    expect(lb1.virtualServers[0]!.healthChecks[0]).toMatchObject({ type: 'tcp', intervalMs: 3000, timeoutMs: 2000, rise: 1, fall: 2 });
  });
});

describe('vipd import (CLI)', () => {
  const vipd = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/vipd.js'), 'import', ...args], { encoding: 'utf8', cwd: corpus });

  it('complete: YAML on stdout, notes on stderr, exit 0', () => {
    const r = vipd('dr-http.conf');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^# vipd.yaml translated by "vipd import" from dr-http.conf.\n# Complete/);
    expect(r.stdout).toContain('vrid: 51');
    expect(r.stderr).toContain('dr-http.conf:7:5: state: note:');
  });

  it('incomplete: -o written with the left-out parts at its top, the report on stderr, exit 3', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-imp-'));
    const out = join(dir, 'vipd.yaml');
    writeFileSync(join(dir, 'vmac.conf'), 'vrrp_instance VI_V {\n    interface eth0\n    virtual_router_id 9\n    use_vmac\n    virtual_ipaddress {\n        10.9.0.1/24\n    }\n}\n');
    const r = spawnSync(process.execPath, [join(root, 'bin/vipd.js'), 'import', '--from', 'keepalived', 'vmac.conf', '-o', out, '--config-id', 'lb1'], { encoding: 'utf8', cwd: dir });
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('vmac.conf:4:5: use_vmac: not translated: vipd has no VMAC interfaces');
    expect(r.stderr).toMatch(/vipd: import incomplete/);
    expect(readFileSync(out, 'utf8')).toMatch(/^# NOT COMPLETE: 1 part\(s\) left out:\n# {3}vmac.conf:4:5: use_vmac/m);
    expect(execFileSync(process.execPath, [join(root, 'bin/vipd.js'), 'check', '-c', out], { encoding: 'utf8' })).toContain('VI_V');
  });

  it('invalid keepalived syntax: file:line:col on stderr, exit 2, no output', () => {
    const r = spawnSync('sh', ['-c', `printf 'vrrp_instance A {\\n  priority "1\\n}\\n' > /tmp/vipd-bad-$$.conf; ${process.execPath} ${join(root, 'bin/vipd.js')} import /tmp/vipd-bad-$$.conf; echo "exit=$?"; rm -f /tmp/vipd-bad-$$.conf`], { encoding: 'utf8' });
    expect(r.stdout).toBe('exit=2\n');
    expect(r.stderr).toMatch(/^\/tmp\/vipd-bad-\d+\.conf:2:12: unterminated quoted string \(no closing "\) \(invalid keepalived syntax\)\n$/);
  });
});
