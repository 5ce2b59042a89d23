// One logger for the daemon: pino JSON lines (log shippers read them as they are;
// under systemd, native journal entries with a field per key), pretty and coloured
// when a person is watching a terminal.

import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { JOURNAL_SOCKET, journalEntry, stdoutIsJournal } from './journal.js';
import { sendUnixDatagram } from './net/unixdgram.js';

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
  // Under systemd, straight into the journal with a field per key (a line it refuses,
  // e.g. one too big for a datagram, still goes to the journal through stdout).
  if (stdoutIsJournal()) {
    return pino(base, {
      write(line: string): void {
        try {
          sendUnixDatagram(JOURNAL_SOCKET, journalEntry(line));
        } catch {
          writeSync(1, line);
        }
      },
    });
  }
  // Synchronous writes: a log line must not be lost when we exit right after a failover.
  // dest: 1, not fd: 1 — with fd, pino reads process.stdout.fd, which creates process.stdout (see above).
  return pino(base, pino.destination({ dest: 1, sync: true }));
}
