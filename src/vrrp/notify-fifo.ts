// keepalived's notify FIFOs (global notify_fifo and vrrp_notify_fifo): a line
// per VRRP transition, `INSTANCE "VI_1" MASTER 150` (the effective priority) or
// `GROUP "G1" BACKUP 0`, newline-terminated (keepalived 2.2, vrrp_notify.c).
//
// A missing FIFO is created (mode 0600) and removed again when vipd stops
// using it; a path that is something else is an error, logged. The FIFO is
// opened read-write and non-blocking, as keepalived does: opening never waits
// for a reader, lines written while there is none wait in the pipe (64 KiB)
// for the next reader, and a full pipe never blocks the daemon — the line is
// dropped and counted.

import { execFileSync } from 'node:child_process';
import { closeSync, constants, lstatSync, openSync, rmSync, writeSync } from 'node:fs';
import type { Logger } from '../log.js';

/** The line keepalived writes for a transition. */
export function fifoLine(type: 'INSTANCE' | 'GROUP', name: string, state: string, priority: number): string {
  return `${type} "${name}" ${state} ${priority}\n`;
}

export interface FifoStatus {
  path: string;
  open: boolean;
  written: number;
  dropped: number;
  error?: string;
}

class Fifo {
  readonly status: FifoStatus;
  private fd: number | undefined;
  private created = false;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    this.status = { path, open: false, written: 0, dropped: 0 };
    try {
      let st = lstatSync(path, { throwIfNoEntry: false });
      if (!st) {
        execFileSync('mkfifo', ['-m', '0600', path], { stdio: ['ignore', 'ignore', 'pipe'] });
        this.created = true;
        st = lstatSync(path);
      }
      if (!st.isFIFO()) throw new Error(`${path} exists and is not a FIFO`);
      this.fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
      this.status.open = true;
    } catch (err) {
      this.status.error = (err as Error).message.split('\n')[0];
      this.log.error({ fifo: path, err: this.status.error }, `notify FIFO ${path} cannot be used: ${this.status.error}; transitions are not written to it`);
    }
  }

  write(line: string): void {
    if (this.fd === undefined) {
      this.status.dropped++;
      return;
    }
    try {
      writeSync(this.fd, line);
      this.status.written++;
    } catch (err) {
      // EAGAIN: the pipe is full (nobody reads). Never wait for a reader.
      if (this.status.dropped++ === 0 || (err as NodeJS.ErrnoException).code !== 'EAGAIN')
        this.log.warn({ fifo: this.path, err: (err as Error).message, dropped: this.status.dropped }, `notify FIFO ${this.path}: line dropped (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nobody reads it?`);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.status.open = false;
    if (this.created) rmSync(this.path, { force: true });
  }
}

export class NotifyFifos {
  private fifos = new Map<string, Fifo>();

  constructor(private readonly log: Logger) {}

  /** Opens the FIFOs newly configured, closes those no longer configured. */
  configure(paths: readonly string[]): void {
    for (const [p, f] of this.fifos)
      if (!paths.includes(p)) {
        f.close();
        this.fifos.delete(p);
      }
    for (const p of paths) if (!this.fifos.has(p)) this.fifos.set(p, new Fifo(p, this.log));
  }

  write(type: 'INSTANCE' | 'GROUP', name: string, state: string, priority: number): void {
    if (this.fifos.size === 0) return;
    const line = fifoLine(type, name, state, priority);
    for (const f of this.fifos.values()) f.write(line);
  }

  status(): FifoStatus[] {
    return [...this.fifos.values()].map((f) => ({ ...f.status }));
  }

  close(): void {
    this.configure([]);
  }
}
