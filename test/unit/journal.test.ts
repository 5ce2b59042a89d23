import { describe, expect, it } from 'vitest';
import { fieldName, journalEntry } from '../../src/journal.js';

/** Decodes a native-protocol datagram (both the KEY=value and the length-prefixed form). */
function decode(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < buf.length) {
    const nl = buf.indexOf(10, i);
    const head = buf.subarray(i, nl).toString();
    const eq = head.indexOf('=');
    if (eq >= 0) {
      out[head.slice(0, eq)] = head.slice(eq + 1);
      i = nl + 1;
    } else {
      const len = Number(buf.readBigUInt64LE(nl + 1));
      out[head] = buf.subarray(nl + 9, nl + 9 + len).toString();
      expect(buf[nl + 9 + len]).toBe(10);
      i = nl + 10 + len;
    }
  }
  return out;
}

describe('journald native protocol', () => {
  it('a transition line becomes MESSAGE, PRIORITY and one VIPD_ field per key', () => {
    const line = JSON.stringify({ level: 30, time: '2026-12-04T10:00:00.000Z', pid: 7, event: 'vrrp-transition', from: 'BACKUP', to: 'MASTER', reason: 'master down', priority: 150, vrid: 51, msg: 'VI_1 BACKUP -> MASTER: master down' });
    expect(decode(journalEntry(`${line}\n`))).toEqual({
      MESSAGE: 'VI_1 BACKUP -> MASTER: master down',
      PRIORITY: '6',
      SYSLOG_IDENTIFIER: 'vipd',
      VIPD_EVENT: 'vrrp-transition',
      VIPD_FROM: 'BACKUP',
      VIPD_TO: 'MASTER',
      VIPD_REASON: 'master down',
      VIPD_PRIORITY: '150',
      VIPD_VRID: '51',
    });
  });

  it('levels map to syslog priorities; objects are JSON; newlines use the length-prefixed form', () => {
    const e = decode(journalEntry(JSON.stringify({ level: 50, msg: 'line one\nline two', err: { code: 'EPERM' } })));
    expect(e.PRIORITY).toBe('3');
    expect(e.MESSAGE).toBe('line one\nline two');
    expect(e.VIPD_ERR).toBe('{"code":"EPERM"}');
    expect(decode(journalEntry(JSON.stringify({ level: 40, msg: 'w' }))).PRIORITY).toBe('4');
    expect(decode(journalEntry(JSON.stringify({ level: 20, msg: 'd' }))).PRIORITY).toBe('7');
  });

  it('field names are upper snake case with the VIPD_ prefix', () => {
    expect(fieldName('masterAddress')).toBe('VIPD_MASTER_ADDRESS');
    expect(fieldName('rs-key.x')).toBe('VIPD_RS_KEY_X');
  });
});
