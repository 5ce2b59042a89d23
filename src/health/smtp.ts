// keepalived's SMTP_CHECK: connect, read the 220 greeting, send HELO with the
// configured name, expect 250, send QUIT and expect 221. Each reply's code is its
// first three digits; a multi-line reply ("250-...") is read to its last line.

import type net from 'node:net';
import { connectTcp } from './connect.js';
import { type CheckResult, type CheckSpec, settleCheck } from './types.js';

/** The complete reply at the start of `buf` (its code and the bytes it took), or undefined while incomplete. Pure. */
export function smtpReply(buf: string): { code: number; line: string; used: number } | undefined {
  let off = 0;
  for (;;) {
    const nl = buf.indexOf('\n', off);
    if (nl < 0) return undefined;
    const line = buf.slice(off, nl).replace(/\r$/, '');
    off = nl + 1;
    if (line[3] !== '-') return { code: /^\d{3}/.test(line) ? Number(line.slice(0, 3)) : -1, line, used: off };
  }
}

export function checkSmtp(s: CheckSpec): Promise<CheckResult> {
  const helo = s.heloName ?? 'smtpchecker.keepalived.org';
  const steps = [
    { expect: 220, what: 'greeting', next: `HELO ${helo}\r\n` },
    { expect: 250, what: `HELO ${helo}`, next: 'QUIT\r\n' },
    { expect: 221, what: 'QUIT', next: undefined },
  ];
  let step = 0;
  let connected = false;
  const failed = (code: string): string => `TCP ${code}${code === 'ECONNREFUSED' ? ' (connection refused)' : ''}`;
  return settleCheck(
    s.timeoutMs,
    () => (!connected ? `TCP connect timed out after ${s.timeoutMs} ms` : `SMTP: no answer to the ${steps[step]!.what} within ${s.timeoutMs} ms`),
    (done) =>
      connectTcp(
        s,
        (c: net.Socket) => {
          connected = true;
          let buf = '';
          c.setEncoding('latin1');
          c.on('data', (d: string) => {
            buf += d;
            for (let r = smtpReply(buf); r; r = smtpReply(buf)) {
              buf = buf.slice(r.used);
              const st = steps[step]!;
              if (r.code !== st.expect) return done(false, `SMTP ${st.what}: ${JSON.stringify(r.line.slice(0, 80))} (expected ${st.expect})`);
              if (st.next === undefined) return done(true, `SMTP 220, HELO 250, QUIT 221`);
              c.write(st.next);
              step++;
            }
            if (buf.length > 4096) done(false, 'SMTP: a reply line over 4 KiB');
          });
          c.once('end', () => done(false, `SMTP: connection closed before the ${steps[step]!.what} reply`));
          c.once('error', (err: NodeJS.ErrnoException) => done(false, failed(err.code ?? err.message)));
        },
        (code) => done(false, failed(code)),
      ),
  );
}
