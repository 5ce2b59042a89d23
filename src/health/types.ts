// Health checks: what a check is, what it answers, and the pure rise/fall rule
// that turns answers into a verdict.

import type { HttpProtocol } from './http-wire.js';

/** Every kind of check, in a fixed order (the timings' shared array has a histogram per kind in this order). */
export const CHECK_TYPES = ['tcp', 'http', 'https', 'ping', 'script', 'vrrp_script', 'udp', 'dns', 'smtp', 'file'] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

/** One URL of an HTTP/HTTPS check (keepalived's url block): every one must pass. */
export interface HealthCheckUrl {
  path: string;
  /** Octavia's expected_codes syntax ("200-299, 503"); keepalived's status_code, default 200-299. */
  expectedCodes: string;
  /** keepalived's digest: the MD5 of the body, lower-case hex. */
  digest?: string;
  /** The Host header for this URL (keepalived's url virtualhost); else the check's. */
  host?: string;
}

/** What keepalived's checkers add to a check; the same in the config (HealthCheckConfig) and resolved (CheckSpec). */
export interface CheckerOptions {
  /** Source address of the check's packets (keepalived bindto). */
  bindto?: string;
  /** Source port of the check's connection or datagrams (keepalived bind_port). */
  bindPort?: number;
  /** The interface the check's socket is bound to, SO_BINDTODEVICE (keepalived bind_if): its packets leave there whatever the routes say. */
  bindIf?: string;
  /** The mark of the check's packets, SO_MARK (keepalived fwmark): for policy routing or firewall rules. */
  fwmark?: number;
  /** The first run at a random time within this many ms (keepalived warmup, 0: at once); else spread over the interval. */
  warmupMs?: number;
  /** After a failure while up, the next try this much later (keepalived delay_before_retry); else intervalMs. */
  retryDelayMs?: number;
  /** https: client certificate and key (PEM files). */
  certFile?: string;
  keyFile?: string;
  /** http/https: keepalived's http_protocol (1.0: HTTP/1.0; 1.0C: and Connection: close; 1.1: HTTP/1.1 and Connection: close); else 1.1. */
  httpProtocol?: HttpProtocol;
  /** script: keepalived's misc_dynamic (exit 2..255: up with weight code - 2); else any non-zero exit is down. */
  miscDynamic?: boolean;
  /** udp: hex payload (random when unset); a reply required (optionally matching a hex pattern, x a wildcard nibble) and its length bounds. */
  payload?: string;
  requireReply?: string | true;
  minReplyLength?: number;
  maxReplyLength?: number;
  /** dns: query type and name (keepalived's SOA and "."); an address the A/AAAA answer must hold (vipd's own). */
  dnsType?: string;
  dnsName?: string;
  dnsAnswer?: string;
  /** smtp: HELO name. */
  heloName?: string;
  /** file: the file holding a number, its weight multiplier (0: non-zero is down) and reverse. */
  file?: string;
  fileWeight?: number;
  fileReverse?: boolean;
}

/** One check of one real server, fully resolved (defaults filled in). */
export interface CheckSpec extends CheckerOptions {
  type: CheckType;
  /** The address checked (the real server's, or connect_ip). */
  address: string;
  /** Port for tcp/http/https/udp/dns/smtp (the real server's, or connect_port). */
  port: number;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive passes that bring a down server up (Octavia max_retries). */
  rise: number;
  /** Consecutive failures that take an up server down (Octavia max_retries_down). */
  fall: number;
  /** tcp: bytes to send after connecting, and what the answer must contain. */
  send?: string;
  expect?: string;
  /** http/https */
  method?: string;
  path?: string;
  host?: string;
  expectedCodes?: string;
  bodyRegex?: string;
  /** http/https: several URLs, each must pass (keepalived's url blocks, digest = MD5 of the body). */
  urls?: HealthCheckUrl[];
  /** https: SNI name (default: host), CA file, or verify: false. */
  sni?: string;
  caFile?: string;
  verify?: boolean;
  /** script: argv; the real server's address and port are appended unless the command uses {address}/{port}. vrrp_script: argv as is. */
  command?: string[];
  /** vrrp_script: run as this uid/gid (keepalived's `user`). */
  uid?: number;
  gid?: number;
}

/** What one run of a check answers. */
export interface CheckResult {
  ok: boolean;
  /** Why, in words an operator reads in a log line: "HTTP 503 (expected 200-204)". */
  reason: string;
  /** A script's exit code 2..255 sets the weight to code - 2 (keepalived's misc_dynamic). */
  weight?: number;
  /** FILE_CHECK: the value read times its weight, added to the real server's weight. */
  weightAdd?: number;
  ms: number;
}

/**
 * Identity of a check: real servers of several virtual servers share one check when this is equal.
 * The unset fields at the end are left out (a TCP check's key is ~45 bytes, not ~200: at 10,000
 * checks the keys were 2 MB of heap in each of the two threads).
 */
export function checkKey(s: CheckSpec): string {
  return JSON.stringify([s.type, s.address, s.port, s.intervalMs, s.timeoutMs, s.rise, s.fall, s.send, s.expect, s.method, s.path, s.host, s.expectedCodes, s.bodyRegex, s.sni, s.caFile, s.verify, s.command, s.uid, s.gid,
    s.bindto, s.bindPort, s.bindIf, s.fwmark, s.warmupMs, s.retryDelayMs, s.urls, s.certFile, s.keyFile, s.miscDynamic, s.payload, s.requireReply, s.minReplyLength, s.maxReplyLength,
    s.dnsType, s.dnsName, s.dnsAnswer, s.heloName, s.file, s.fileWeight, s.fileReverse, s.httpProtocol]).replace(/(,null)+]$/, ']');
}

/**
 * What a check looks at and how, without its timing (interval, timeout, rise, fall,
 * warmup, retry delay): two checks with the same target differ in timing alone.
 */
export function checkTarget(s: CheckSpec): string {
  return checkKey({ ...s, intervalMs: 0, timeoutMs: 0, rise: 0, fall: 0, warmupMs: undefined, retryDelayMs: undefined });
}

/** "200", "200, 202", "200-204" (Octavia's expected_codes) -> a predicate, or an error message. */
export function parseExpectedCodes(text: string): ((code: number) => boolean) | string {
  const ranges: [number, number][] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(part);
    if (!m) return `"${part}" is not a status code or range`;
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    if (lo < 100 || hi > 599 || hi < lo) return `"${part}" is not within 100-599 (low-high)`;
    ranges.push([lo, hi]);
  }
  return (code) => ranges.some(([lo, hi]) => code >= lo && code <= hi);
}

export type Verdict = 'up' | 'down';

/**
 * Rise and fall: `fall` consecutive failures take an up server down, `rise`
 * consecutive passes bring a down server up. A server starts up (it is in the
 * pool at once) or, with alpha, down until it has passed `rise` times.
 */
export class RiseFall {
  verdict: Verdict;
  /** Consecutive passes (when the last run passed) or failures (when it failed). */
  run = 0;
  lastOk: boolean | undefined;

  constructor(
    private readonly rise: number,
    private readonly fall: number,
    alpha: boolean,
  ) {
    this.verdict = RiseFall.initial(alpha);
  }

  /** The verdict before any result: up, unless alpha (down until it passes). */
  static initial(alpha: boolean): Verdict {
    return alpha ? 'down' : 'up';
  }

  /** Records one result; returns true when the verdict changed. */
  record(ok: boolean): boolean {
    this.run = ok === this.lastOk ? this.run + 1 : 1;
    this.lastOk = ok;
    if (this.verdict === 'up' && !ok && this.run >= this.fall) return (this.verdict = 'down'), true;
    if (this.verdict === 'down' && ok && this.run >= this.rise) return (this.verdict = 'up'), true;
    return false;
  }
}

/**
 * A check's deadline, judged after the I/O already pending when it fires: on a
 * busy event loop timers run before the poll phase, and an answer that arrived
 * in time must not lose to its own timer (a false failure under load).
 */
export function deadline(fn: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(() => setImmediate(fn), ms);
}

/**
 * One run of a socket check: the first outcome wins (later events are ignored),
 * `timedOut` words the failure at the deadline (judged after pending I/O, see
 * deadline), and `start` opens the socket and returns how to release it — called
 * once, as soon as the outcome is known.
 */
export function settleCheck(
  timeoutMs: number,
  timedOut: () => string,
  start: (done: (ok: boolean, reason: string) => void) => () => void,
): Promise<CheckResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let release: (() => void) | undefined;
    const done = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release?.();
      resolve({ ok, reason, ms: performance.now() - t0 });
    };
    const timer = deadline(() => done(false, timedOut()), timeoutMs);
    try {
      release = start(done);
    } catch (err) {
      clearTimeout(timer); // the check could not start (a CA file that cannot be read): the promise rejects
      throw err;
    }
    if (settled) release(); // settled inside start, before its release was known
  });
}
