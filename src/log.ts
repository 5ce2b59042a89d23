// One logger for the daemon: pino JSON lines (journald and log shippers read
// them as they are), pretty and coloured when a person is watching a terminal.

import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Force pretty (true) or JSON (false); default: pretty when stdout is a TTY. */
  pretty?: boolean;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const base = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (opts.pretty ?? process.stdout.isTTY) {
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
  }
  // Synchronous writes: a log line must not be lost when we exit right after a failover.
  return pino(base, pino.destination({ fd: 1, sync: true }));
}
