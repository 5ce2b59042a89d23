// BIRD 2 configurations for the ECMP tier's labs (netns test, QEMU guest,
// benchmark) — and the director's one is what README's "Scaling out" shows.
//
// A director: BIRD's kernel protocol reads vipd's table (`learn`: routes other
// programs installed; `export none`: BIRD never writes into it) and BGP exports
// exactly those routes to the upstream router, next hop this director. BFD
// takes a dead director out within interval x multiplier.
// The router: BGP from every director, the equal routes merged into one
// multipath route in its kernel (`merge paths`): ECMP over the directors.
// IPv6 VIPs (/128 routes in the same table) go over a second BGP session
// between the IPv6 addresses, so the next hop is the director's IPv6 address.

export interface BfdTimers {
  /** min rx / tx interval, ms. */
  intervalMs: number;
  multiplier: number;
}

export interface DirectorBird {
  routerId: string;
  /** The interface towards the router (BFD runs there). */
  iface: string;
  localAs: number;
  upstream: { address: string; as: number };
  /** The router's IPv6 address: announced IPv6 VIPs go over a BGP session to it. */
  upstream6?: string;
  /** vipd's announce.table. */
  table: number;
  bfd?: BfdTimers;
  /** BGP hold time, s (3 is the least BGP allows). */
  holdS?: number;
}

const bfdBlock = (iface: string, t: BfdTimers | undefined): string =>
  t ? `protocol bfd {\n  interface "${iface}" {\n    min rx interval ${t.intervalMs} ms;\n    min tx interval ${t.intervalMs} ms;\n    multiplier ${t.multiplier};\n  };\n}\n` : '';

const sessionTimers = (holdS: number, bfd: boolean): string =>
  `  hold time ${holdS};\n  keepalive time ${Math.max(1, Math.floor(holdS / 3))};\n  connect retry time 1;\n  error wait time 1, 5;\n${bfd ? '  bfd on;\n' : ''}`;

export function directorBird(o: DirectorBird): string {
  const timers = sessionTimers(o.holdS ?? 3, o.bfd !== undefined);
  const v6 =
    o.upstream6 === undefined
      ? ''
      : `protocol kernel vipd6 {
  kernel table ${o.table};
  learn;
  scan time 10;
  ipv6 { import all; export none; };
}
protocol bgp upstream6 {
  local as ${o.localAs};
  neighbor ${o.upstream6} as ${o.upstream.as};
${timers}  ipv6 { import none; export where proto = "vipd6"; next hop self; };
}
`;
  return `# vipd's announced VIPs (table ${o.table}) to the upstream router over BGP
router id ${o.routerId};
protocol device { scan time 10; }
protocol kernel vipd {
  kernel table ${o.table};   # vipd's announce.table
  learn;                     # routes vipd installed (protocol 86) come in
  scan time 10;              # rtnetlink notifications carry each change at once; the scan is the fallback
  ipv4 { import all; export none; };
}
${bfdBlock(o.iface, o.bfd)}protocol bgp upstream {
  local as ${o.localAs};
  neighbor ${o.upstream.address} as ${o.upstream.as};
${timers}  ipv4 {
    import none;
    export where proto = "vipd";   # the announced VIPs only
    next hop self;
  };
}
${v6}`;
}

export interface RouterBird {
  routerId: string;
  iface: string;
  localAs: number;
  /** address6: the director's IPv6 address, for its IPv6 session. */
  peers: { name: string; address: string; address6?: string; as: number }[];
  bfd?: BfdTimers;
  holdS?: number;
}

export function routerBird(o: RouterBird): string {
  const peers = o.peers.map((p) => `protocol bgp ${p.name} from director { neighbor ${p.address} as ${p.as}; }`);
  const v6 = o.peers.filter((p) => p.address6 !== undefined);
  for (const p of v6) peers.push(`protocol bgp ${p.name}_6 from director6 { neighbor ${p.address6} as ${p.as}; }`);
  const timers = sessionTimers(o.holdS ?? 3, o.bfd !== undefined);
  const kernel6 = v6.length ? 'protocol kernel {\n  merge paths on;\n  ipv6 { import none; export all; };\n}\n' : '';
  const template6 = v6.length ? `template bgp director6 {\n  local as ${o.localAs};\n${timers}  ipv6 { import all; export none; };\n}\n` : '';
  return `# upstream router: ECMP over every director announcing a VIP
router id ${o.routerId};
protocol device { scan time 10; }
protocol kernel {
  merge paths on;            # equal BGP routes from several directors -> one multipath route
  ipv4 { import none; export all; };
}
${kernel6}${bfdBlock(o.iface, o.bfd)}template bgp director {
  local as ${o.localAs};
${timers}  ipv4 { import all; export none; };
}
${template6}${peers.join('\n')}
`;
}

/** bird's command line in the foreground with its own control socket and pid file. */
export const birdArgs = (conf: string, sock: string, pid: string): string[] => ['-f', '-c', conf, '-s', sock, '-P', pid];
