// systemd's notify protocol (sd_notify(3)): READY, RELOADING, STOPPING,
// STATUS and WATCHDOG datagrams to $NOTIFY_SOCKET. A no-op outside systemd.

import { sendUnixDatagram } from '../net/unixdgram.js';

export class SdNotify {
  private readonly socket: string | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.socket = env.NOTIFY_SOCKET || undefined;
    const usec = Number(env.WATCHDOG_USEC);
    const pid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
    if (this.socket && usec > 0 && pid === process.pid) {
      // Ping at half the deadline from the event loop itself: a stuck loop misses it and systemd restarts us.
      this.watchdog = setInterval(() => this.send('WATCHDOG=1'), Math.max(1, Math.floor(usec / 2000)));
      this.watchdog.unref();
    }
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  ready(status: string): void {
    this.send(`READY=1\nSTATUS=${status}`);
  }

  reloading(): void {
    const monotonicUsec = process.hrtime.bigint() / 1000n;
    this.send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec}`);
  }

  stopping(): void {
    this.send('STOPPING=1');
  }

  status(text: string): void {
    this.send(`STATUS=${text}`);
  }

  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
  }

  private send(msg: string): void {
    if (!this.socket) return;
    try {
      sendUnixDatagram(this.socket, Buffer.from(msg));
    } catch {
      // systemd went away or the socket is not ours: nothing useful to do.
    }
  }
}
