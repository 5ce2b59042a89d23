// The `metrics:` section: where the Prometheus endpoint listens. Off unless set.
//   metrics: {listen: 127.0.0.1:9650}      (IPv6: "[::1]:9650")

import { isIP } from 'node:net';
import type { Node } from 'yaml';
import { type Fields, str } from './reader.js';
import type { MetricsConfig } from './types.js';

const WHAT = 'host:port with an IPv4 or IPv6 literal and a port 1..65535, e.g. 127.0.0.1:9650 or [::1]:9650';

/** "127.0.0.1:9650" / "[::1]:9650" -> host and port, or why not. */
export function parseListen(s: string): { host: string; port: number } | string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) return s.includes(':') && !s.startsWith('[') && s.split(':').length > 2 ? `"${s}": an IPv6 address goes in brackets` : `"${s}" is not host:port`;
  const [, host, portText] = m as unknown as [string, string, string];
  if (isIP(host) === 0) return `"${host}" is not an IPv4 or IPv6 address (a name is not resolved)`;
  if (m[0].startsWith('[') && isIP(host) !== 6) return `"${host}" in brackets is not an IPv6 address`;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${portText} is out of range 1..65535`;
  return { host, port };
}

export function metrics(f: Fields, node: Node | null | undefined): MetricsConfig | undefined {
  if (node === undefined) return undefined;
  const m = f.map(node, 'metrics', 'a map with listen (host:port)');
  if (!m) return undefined;
  m.allowOnly(['listen']);
  if (!m.has('listen')) {
    f.r.issue(node, 'metrics', `listen is missing; valid: ${WHAT} (leave metrics out to turn the endpoint off)`);
    return undefined;
  }
  const listen = f.get(
    m,
    'listen',
    str(WHAT, (s) => {
      const p = parseListen(s);
      return typeof p === 'string' ? p : undefined;
    }),
  );
  if (listen === undefined) return undefined;
  const p = parseListen(listen) as { host: string; port: number };
  return { listen, host: p.host, port: p.port };
}
