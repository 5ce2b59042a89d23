// vipd against Debian's keepalived (2.2.7) as the other VRRP router on the same
// LAN: v2 with PASS authentication (1 s adverts) and v3 (0.1 s adverts). Each
// side wins in turn; failover and priority-0 handover both ways.

import { beforeAll, describe, expect, it } from 'vitest';
import { KeepalivedProc } from './keepalived.js';
import { type Lab, waitFor } from './lab.js';
import { directorsLabForFile, instance, VIP } from './topo.js';
import { VipdProc } from './vipd.js';

const files = directorsLabForFile('io');
const procs = { push: files.started };
let lab: Lab;
beforeAll(() => {
  lab = files.lab();
});

const variants = [
  { name: 'VRRPv2, PASS authentication, 1 s adverts', version: 2 as const, advert: 1, auth: 'secret12' },
  { name: 'VRRPv3, 0.1 s adverts', version: 3 as const, advert: 0.1 },
];

for (const v of variants) {
  describe(`interop with keepalived 2.2.7: ${v.name}`, () => {
    const masterDownMs = (prio: number) => 3 * v.advert * 1000 + ((256 - prio) * v.advert * 1000) / 256;

    function startVipd(priority: number): VipdProc {
      const p = new VipdProc(lab, 'lb1', {
        vrrp_instances: {
          VI_1: instance({
            priority,
            version: v.version,
            advert_int: v.advert,
            ...(v.auth ? { authentication: { auth_type: 'PASS', auth_pass: v.auth } } : {}),
          }),
        },
      });
      procs.push({ kill: () => p.kill('SIGKILL'), wait: () => p.wait() });
      return p;
    }

    function startKeepalived(priority: number): KeepalivedProc {
      const k = new KeepalivedProc(lab, 'lb2', [
        { name: 'VI_1', interface: 'eth0', vrid: 51, priority, advertInt: v.advert, version: v.version, vips: [`${VIP}/24`], ...(v.auth ? { authPass: v.auth } : {}) },
      ]);
      procs.push({ kill: () => k.killHard(), wait: () => k.waitExit() });
      return k;
    }

    const kaHasVip = () => lab.hasAddress('lb2', VIP);

    it('vipd (150) wins over keepalived (100); kill -9 -> keepalived takes over; vipd returns and preempts; SIGTERM -> priority-0 handover', async () => {
      const p = startVipd(150);
      await p.ready();
      await p.waitState('VI_1', 'MASTER', masterDownMs(150) + 3000);
      const k = startKeepalived(100);
      await k.ready();
      await waitFor('keepalived to settle as backup', () => !kaHasVip(), 3000);
      const mark = k.log().length;
      await new Promise((r) => setTimeout(r, 3 * v.advert * 1000));
      expect(kaHasVip()).toBe(false);
      expect(await p.state('VI_1')).toBe('MASTER');
      expect(lab.hasAddress('lb1', VIP)).toBe(true);
      expect(lab.ping('cl', VIP)).toBe(true);
      // keepalived accepted our adverts: it logs entering BACKUP and never MASTER.
      expect(k.log()).not.toMatch(/\(VI_1\) Entering MASTER STATE/);

      // kill -9 vipd: keepalived becomes master after its Master_Down_Interval.
      let t0 = Date.now();
      p.kill('SIGKILL');
      await waitFor('keepalived to take the VIP', kaHasVip, masterDownMs(100) + 3000, 10);
      let took = Date.now() - t0;
      // Master_Down counts from the last advert heard, up to one interval before the kill.
      expect(took).toBeGreaterThan(masterDownMs(100) - v.advert * 1000 - 20);
      expect(took).toBeLessThan(masterDownMs(100) + 1000);
      await waitFor('keepalived to log its MASTER transition', () => /\(VI_1\) Entering MASTER STATE/.test(k.log().slice(mark)), 2000);
      await p.wait();

      // vipd returns with the higher priority: keepalived yields.
      const q = startVipd(150);
      await q.ready();
      await q.waitState('VI_1', 'MASTER', masterDownMs(150) + 3000);
      await waitFor('keepalived to release the VIP', () => !kaHasVip(), 3000);

      // SIGTERM: vipd sends priority 0, keepalived takes over after skew time, not Master_Down.
      t0 = Date.now();
      q.kill('SIGTERM');
      await waitFor('keepalived to take the VIP after priority 0', kaHasVip, 3000, 10);
      took = Date.now() - t0;
      expect(took).toBeLessThan(masterDownMs(100) * 0.6);
      expect(await q.wait()).toBe(0);
      expect(lab.hasAddress('lb1', VIP)).toBe(false);
    });

    it('keepalived (150) wins over vipd (100); kill -9 -> vipd takes over; keepalived returns and preempts; SIGTERM -> priority-0 handover', async () => {
      const k = startKeepalived(150);
      await k.ready();
      const p = startVipd(100);
      await p.ready();
      await waitFor(() => `keepalived to become master (its log: ${k.log().slice(-1500)})`, kaHasVip, masterDownMs(150) + 5000);
      await p.waitState('VI_1', 'BACKUP', 3000);
      await new Promise((r) => setTimeout(r, 3 * v.advert * 1000));
      expect(await p.state('VI_1')).toBe('BACKUP');
      expect(lab.hasAddress('lb1', VIP)).toBe(false);
      expect(p.transitions('VI_1').map((l) => l.to)).not.toContain('MASTER');
      // Every advert keepalived sent was accepted: nothing dropped for version, auth, checksum or interval.
      const st = (await p.status()).vrrp;
      expect(st.instances[0]!.counters.advertsReceived).toBeGreaterThan(0);
      expect(st.instances[0]!.counters.dropped).toEqual({});

      let t0 = Date.now();
      k.killHard();
      await p.waitState('VI_1', 'MASTER', masterDownMs(100) + 3000);
      let took = Date.now() - t0;
      // Master_Down counts from the last advert heard, up to one interval before the kill.
      expect(took).toBeGreaterThan(masterDownMs(100) - v.advert * 1000 - 20);
      expect(took).toBeLessThan(masterDownMs(100) + 1000);
      await k.waitExit();
      lab.ip('lb2', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true); // a dead host's address is gone with it

      const k2 = startKeepalived(150);
      await k2.ready();
      await p.waitState('VI_1', 'BACKUP', masterDownMs(150) + 5000);
      await waitFor('keepalived to hold the VIP', kaHasVip, 3000);
      expect(lab.hasAddress('lb1', VIP)).toBe(false);

      t0 = Date.now();
      const stopping = k2.stop();
      await p.waitState('VI_1', 'MASTER', 3000);
      took = Date.now() - t0;
      await stopping;
      expect(took).toBeLessThan(masterDownMs(100) * 0.6 + 300);
      expect(lab.hasAddress('lb1', VIP)).toBe(true);
      expect(String(p.transitions('VI_1').at(-1)!.reason)).toMatch(/priority 0/);
    });
  });
}
