// `vipd import` end to end: one keepalived.conf for a unicast pair (PASS authentication, a
// vrrp_script, keepalived's @id conditionals for each host's priority and addresses) runs
// as it is under keepalived on one director, and translated by `vipd import --config-id`
// under vipd on the other. They elect, fail over and hand over as two keepalived would.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KeepalivedProc } from './keepalived.js';
import { waitFor } from './lab.js';
import { directorsLabForFile, LB1, LB2, VIP } from './topo.js';
import { VIPD_BIN, VipdProc } from './vipd.js';

const CONF = `! one file for both directors: keepalived -i lb1 on one, -i lb2 on the other
global_defs {
    @lb1 router_id lb1
    @lb2 router_id lb2
    script_user root
    enable_script_security
}
vrrp_script chk_alive {
    script "/bin/true"
    interval 1
    weight 10
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    @lb1 priority 150
    @lb2 priority 100
    advert_int 1
    @lb1 unicast_src_ip ${LB1}
    @lb2 unicast_src_ip ${LB2}
    unicast_peer {
        @lb1 ${LB2}
        @lb2 ${LB1}
    }
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        ${VIP}/24 dev eth0
    }
    track_script {
        chk_alive
    }
}
`;

const { lab: labOf, started } = directorsLabForFile('ip');
const masterDownMs = (prio: number) => 3000 + ((256 - prio) * 1000) / 256;

/** `vipd import --config-id ID` of the file: exit 0, and the YAML as an object. */
function imported(configId: string): Record<string, unknown> {
  const lab = labOf();
  const file = join(lab.dir, 'keepalived.conf');
  writeFileSync(file, CONF);
  const r = spawnSync(process.execPath, [VIPD_BIN, 'import', file, '--config-id', configId], { encoding: 'utf8' });
  expect([r.status, r.stderr.split('\n').filter((l) => l.includes('not translated'))]).toEqual([0, []]);
  return parse(r.stdout) as Record<string, unknown>;
}

function vipd(host: 'lb1' | 'lb2'): VipdProc {
  const p = new VipdProc(labOf(), host, imported(host));
  started({ kill: () => p.kill('SIGKILL'), wait: () => p.wait() });
  return p;
}
function keepalived(host: 'lb1' | 'lb2'): KeepalivedProc {
  const k = new KeepalivedProc(labOf(), host, { conf: CONF, configId: host });
  started({ kill: () => k.killHard(), wait: () => k.waitExit() });
  return k;
}

describe('vipd import: the translated file against keepalived running the original', () => {
  it('the translation says what keepalived meant: version 2, PASS, unicast, the script and its weight', () => {
    const y = imported('lb2') as { vrrp_instances: Record<string, Record<string, unknown>>; vrrp_scripts: Record<string, unknown> };
    expect(y.vrrp_instances.VI_1).toMatchObject({ vrid: 51, priority: 100, version: 2, advert_int: 1, unicast_src_ip: LB2, unicast_peer: [LB1], authentication: { auth_type: 'PASS', auth_pass: 's3cret' }, track_script: ['chk_alive'] });
    expect(y.vrrp_scripts).toEqual({ chk_alive: { script: '/bin/true', interval: 1, weight: 10 } });
  });

  it('keepalived (lb1, 150 + 10) is master over vipd (lb2, 100 + 10); killed, vipd takes over; back, it preempts', async () => {
    const lab = labOf();
    const k = keepalived('lb1');
    await k.ready();
    await waitFor(() => `keepalived to become master (${k.log().slice(-800)})`, () => lab.hasAddress('lb1', VIP), masterDownMs(160) + 5000);
    const p = vipd('lb2');
    await p.ready();
    await p.waitState('VI_1', 'BACKUP', 5000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(p.transitions('VI_1').map((l) => l.to)).not.toContain('MASTER');
    const st = (await p.status()).vrrp.instances[0]!;
    expect([st.effectivePriority, st.priority, st.counters.advertsReceived > 0, st.counters.dropped]).toEqual([110, 100, true, {}]);

    const t0 = Date.now();
    k.killHard();
    await p.waitState('VI_1', 'MASTER', masterDownMs(110) + 3000);
    // Master_Down_Interval runs from keepalived's last advert, which went out up to one interval before the kill.
    expect(Date.now() - t0).toBeGreaterThan(masterDownMs(110) - 1000 - 100);
    expect(lab.ping('cl', VIP)).toBe(true);
    await k.waitExit();
    lab.ip('lb1', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);

    const k2 = keepalived('lb1');
    await k2.ready();
    await p.waitState('VI_1', 'BACKUP', masterDownMs(160) + 5000);
    await waitFor('keepalived to hold the VIP again', () => lab.hasAddress('lb1', VIP), 3000);
  });

  it('vipd (lb1) is master over keepalived (lb2); SIGTERM hands over with priority 0, within the skew time', async () => {
    const lab = labOf();
    const p = vipd('lb1');
    await p.ready();
    await p.waitState('VI_1', 'MASTER', masterDownMs(160) + 3000);
    const k = keepalived('lb2');
    await k.ready();
    await new Promise((r) => setTimeout(r, 3000));
    expect([lab.hasAddress('lb1', VIP), lab.hasAddress('lb2', VIP)]).toEqual([true, false]);
    expect(k.log()).not.toMatch(/\(VI_1\) Entering MASTER STATE/);
    const t0 = Date.now();
    p.kill('SIGTERM');
    await waitFor(() => `keepalived to take the VIP after priority 0 (its log: ${k.log().slice(-1500)})`, () => lab.hasAddress('lb2', VIP), 3000, 10);
    expect(Date.now() - t0).toBeLessThan(masterDownMs(110) * 0.6);
    expect(await p.wait()).toBe(0);
  });
});
