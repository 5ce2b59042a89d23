// The kernel's process connector (NETLINK_CONNECTOR, CN_IDX_PROC), what
// keepalived's track_process listens to: an event for every fork, exec, rename
// (comm) and exit on the host, as they happen. Only whole processes are passed
// on (a thread's events are not: pid === tgid). The kernel delivers these only
// to sockets in the initial network namespace (its connector socket lives
// there): elsewhere opening fails with ECONNREFUSED, and the caller falls back.

import { native, type ProcEvent } from './native.js';

/** keepalived's advice for 1400 processes ending at once is 500 kB; take room to spare. */
const RCVBUF = 1 << 20;

export class ProcConnector {
  private readonly fd: number;
  private readonly handle;
  private closed = false;

  /** Throws the addon's error (code ECONNREFUSED, EPERM, EPROTONOSUPPORT ...) when the kernel will not deliver. */
  constructor(onEvents: (events: ProcEvent[], lost: boolean) => void) {
    const n = native();
    this.fd = n.procConnOpen(RCVBUF);
    this.handle = n.watch(this.fd, () => {
      const events: ProcEvent[] = [];
      let lost = false;
      for (;;) {
        let batch: ProcEvent[] | null;
        try {
          batch = n.procConnRecv(this.fd);
        } catch (err) {
          if ((err as { code?: string }).code !== 'ENOBUFS') throw err;
          lost = true; // the kernel dropped events: the caller rescans /proc
          continue;
        }
        if (!batch) break;
        for (const e of batch) if (e.pid === e.tgid) events.push(e);
      }
      if (!this.closed && (events.length > 0 || lost)) onEvents(events, lost);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().unwatch(this.handle);
    native().procConnClose(this.fd);
  }
}
