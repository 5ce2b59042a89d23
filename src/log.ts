// One logger for the daemon: pino JSON lines (journald and log shippers read
// them as they are), pretty and coloured when a person is watching a terminal.

import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { pino, type Logger, type LevelWithSilent } from 'pino';

// Loaded only for a terminal: pino-pretty and its dependencies are some fifty
// modules, about 1 s of a daemon's start-up on a slow CPU that logs JSON anyway.
const loadPretty = (): typeof import('pino-pretty') => createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Force pretty (true) or JSON (false); default: pretty when stdout is a TTY. */
  pretty?: boolean;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const base = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  // isatty(1), not process.stdout.isTTY: creating process.stdout makes a pipe or socket on
  // fd 1 non-blocking, and synchronous writes then fail half-way with EAGAIN when the
  // reader is slow (seen under QEMU: a line cut in half, then no more logging).
  if (opts.pretty ?? isatty(1)) {
    return pino(base, loadPretty()({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
  }
  // Synchronous writes: a log line must not be lost when we exit right after a failover.
  // dest: 1, not fd: 1 — with fd, pino reads process.stdout.fd, which creates process.stdout (see above).
  return pino(base, pino.destination({ dest: 1, sync: true }));
}
