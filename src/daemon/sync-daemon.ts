// IPVS's connection sync daemon in the role of its VRRP instance: master on the
// master (it sends the connections it forwards), backup on the backup (it
// receives them into the same table, so a takeover keeps them). Without an
// instance (the ECMP tier, where every director is active): both at once — each
// director sends its connections to the tier's multicast group and receives the
// others' (IPVS does not loop its own back), so a flow that a router moves to
// another director finds its connection there.

import type { Config } from '../config/types.js';
import type { IpvsClient } from '../ipvs/client.js';
import type { Logger } from '../log.js';

export class SyncDaemonRole {
  /** The role the kernel's sync daemon runs in now; undefined: not started by vipd. */
  role: 'master' | 'backup' | 'master+backup' | undefined;

  constructor(private readonly log: Logger) {}

  /** The VRRP state of the daemon's instance is now `state`: (re)start the daemon in the matching role. */
  follow(client: IpvsClient, sd: NonNullable<Config['ipvs']['syncDaemon']>, state: string): void {
    const role = state === 'MASTER' ? 'master' : 'backup';
    if (role === this.role) return;
    try {
      for (const d of client.daemons()) client.stopDaemon(d.state);
      client.startDaemon({ state: role, interface: sd.interface, syncId: sd.syncId });
      this.role = role;
      this.log.info({ event: 'ipvs-sync-daemon', role, interface: sd.interface, syncId: sd.syncId }, `IPVS sync daemon: ${role} on ${sd.interface} (syncid ${sd.syncId})`);
    } catch (err) {
      this.log.error({ event: 'ipvs-sync-daemon-failed', err: (err as Error).message }, `IPVS sync daemon: ${(err as Error).message}`);
    }
  }

  /** The ECMP tier: master and backup at once (started once; a restart of vipd starts them over). */
  both(client: IpvsClient, sd: NonNullable<Config['ipvs']['syncDaemon']>): void {
    if (this.role === 'master+backup') return;
    try {
      for (const d of client.daemons()) client.stopDaemon(d.state);
      for (const state of ['master', 'backup'] as const) client.startDaemon({ state, interface: sd.interface, syncId: sd.syncId });
      this.role = 'master+backup';
      this.log.info({ event: 'ipvs-sync-daemon', role: this.role, interface: sd.interface, syncId: sd.syncId }, `IPVS sync daemon: master and backup on ${sd.interface} (syncid ${sd.syncId}), the tier's connections shared`);
    } catch (err) {
      this.log.error({ event: 'ipvs-sync-daemon-failed', err: (err as Error).message }, `IPVS sync daemon: ${(err as Error).message}`);
    }
  }

  /** On stop: every sync daemon of the kernel stopped (throws: the caller logs). */
  stop(client: IpvsClient): void {
    for (const d of client.daemons()) client.stopDaemon(d.state);
    if (this.role) this.log.info({ event: 'ipvs-sync-daemon', role: 'stopped' }, `IPVS sync daemon (${this.role}) stopped`);
    this.role = undefined;
  }
}
