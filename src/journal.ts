// journald's native protocol (systemd.journal-fields(7), "Native Journal Protocol"):
// under systemd, each log line becomes one journal entry with its fields, so
// `journalctl -u vipd VIPD_EVENT=vrrp-transition -o json` finds every transition
// with VIPD_FROM, VIPD_TO, VIPD_REASON, ... as fields of their own.

import { fstatSync } from 'node:fs';

export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** pino's numeric levels to syslog priorities (journald's PRIORITY=). */
function priorityOf(level: unknown): number {
  const l = typeof level === 'number' ? level : 30;
  return l >= 60 ? 2 : l >= 50 ? 3 : l >= 40 ? 4 : l >= 30 ? 6 : 7;
}

/** A pino key as a journal field name: VIPD_ + upper snake case (journald allows A-Z, 0-9, _). */
export function fieldName(key: string): string {
  return `VIPD_${key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_')}`.slice(0, 64);
}

// pino's own keys: the journal records the time, pid and host itself.
const SKIP = new Set(['level', 'msg', 'time', 'pid', 'hostname']);

function field(name: string, value: string): Buffer {
  if (!value.includes('\n')) return Buffer.from(`${name}=${value}\n`);
  // A value with a newline: NAME\n, its length as 64-bit little endian, the bytes, \n.
  const bytes = Buffer.from(value);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([Buffer.from(`${name}\n`), len, bytes, Buffer.from('\n')]);
}

/** One pino JSON line as a native-protocol datagram. */
export function journalEntry(line: string, identifier = 'vipd'): Buffer {
  const o = JSON.parse(line) as Record<string, unknown>;
  const parts = [
    field('MESSAGE', typeof o.msg === 'string' ? o.msg : ''),
    field('PRIORITY', String(priorityOf(o.level))),
    field('SYSLOG_IDENTIFIER', identifier),
  ];
  for (const [k, v] of Object.entries(o)) {
    if (SKIP.has(k) || v === undefined) continue;
    parts.push(field(fieldName(k), typeof v === 'string' ? v : JSON.stringify(v)));
  }
  return Buffer.concat(parts);
}

/**
 * True when fd 1 is systemd's journal stream for this service ($JOURNAL_STREAM names
 * its device and inode): the one case where the native protocol is the better channel.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(1, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}
