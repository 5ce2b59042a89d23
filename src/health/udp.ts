// keepalived's UDP_CHECK: a datagram (the payload, or random bytes) to the port
// from a connected socket. Without require_reply it passes unless the kernel
// reports an ICMP error (port or host unreachable) within the timeout; with
// require_reply a reply must come, its length within min..max_reply_length and,
// when require_reply has a hex pattern, its bytes matching the pattern over the
// shorter of the two (x: a nibble that may be anything).

import { randomBytes } from 'node:crypto';
import { udpExchange } from './connect.js';
import { type CheckResult, type CheckSpec, settleCheck } from './types.js';

/**
 * keepalived's HEX_STR: hex digits in groups separated by spaces, each group read
 * in pairs from the left, an odd last digit standing alone ("Ab12f 3" = AB 12 0F 03).
 * With wildcards, x or X is a nibble not compared (mask 0). Pure; a string is an error.
 */
export function parseHex(text: string, wildcards: boolean): { bytes: Buffer; mask: Buffer } | string {
  const bytes: number[] = [];
  const mask: number[] = [];
  for (const group of text.trim().split(/\s+/)) {
    if (!(wildcards ? /^[0-9a-fA-FxX]+$/ : /^[0-9a-fA-F]+$/).test(group)) return `"${group}" is not hex digits${wildcards ? ' (or x)' : ''}`;
    for (let i = 0; i < group.length; i += 2) {
      const pair = group.length - i === 1 ? `0${group[i]}` : group.slice(i, i + 2);
      const nib = (c: string) => (/[xX]/.test(c) ? [0, 0] : [parseInt(c, 16), 0xf]);
      const [hi, hm] = nib(pair[0]!);
      const [lo, lm] = nib(pair[1]!);
      bytes.push((hi! << 4) | lo!);
      mask.push((hm! << 4) | lm!);
    }
  }
  return { bytes: Buffer.from(bytes), mask: Buffer.from(mask) };
}

/** Does a reply match the pattern over min(reply, pattern) bytes (keepalived's rule)? Pure. */
export function replyMatches(reply: Buffer, pattern: { bytes: Buffer; mask: Buffer }): boolean {
  const n = Math.min(reply.length, pattern.bytes.length);
  for (let i = 0; i < n; i++) if ((reply[i]! & pattern.mask[i]!) !== (pattern.bytes[i]! & pattern.mask[i]!)) return false;
  return true;
}

const ICMP: Record<string, string> = { ECONNREFUSED: 'ICMP port unreachable', EHOSTUNREACH: 'ICMP host unreachable', ENETUNREACH: 'ICMP network unreachable' };

export function checkUdp(s: CheckSpec): Promise<CheckResult> {
  const payload = s.payload !== undefined ? (parseHex(s.payload, false) as { bytes: Buffer }).bytes : randomBytes(16);
  const pattern = typeof s.requireReply === 'string' ? (parseHex(s.requireReply, true) as { bytes: Buffer; mask: Buffer }) : undefined;
  const min = s.minReplyLength ?? 0;
  const max = s.maxReplyLength ?? 255;
  return settleCheck(
    s.timeoutMs,
    // Without require_reply, silence is a pass: nothing said the port is closed (keepalived's rule).
    () => (s.requireReply !== undefined ? `no UDP reply within ${s.timeoutMs} ms` : ''),
    (done) =>
      udpExchange(
        s,
        payload,
        (msg: Buffer) => {
          if (s.requireReply === undefined) return;
          if (msg.length < min || msg.length > max) return done(false, `UDP reply of ${msg.length} bytes (valid: ${min}..${max})`);
          if (pattern && !replyMatches(msg, pattern)) return done(false, `UDP reply ${msg.subarray(0, 16).toString('hex')} does not match ${s.requireReply}`);
          done(true, `UDP reply of ${msg.length} bytes`);
        },
        (code, sending) => done(false, sending ? `UDP send failed: ${code}` : `UDP ${ICMP[code] ?? code}${ICMP[code] ? ` (${code})` : ''}`),
      ),
  ).then((r) => (s.requireReply === undefined && r.reason === '' ? { ...r, ok: true, reason: `UDP sent, no ICMP error within ${s.timeoutMs} ms` } : r));
}
