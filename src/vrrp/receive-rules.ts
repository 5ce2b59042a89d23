// The receive rules of RFC 5798 section 6.4 (RFC 3768 for v2) that decide
// whether a decoded advertisement is acted upon at all: TTL, version, our own
// advert, authentication, interval, destination and unicast peers. Pure: the
// FSM drops what this rejects, with the reason it gives (counted per instance).
//
// As keepalived 2.2 (vrrp.c, vrrp_check_packet): TTL 255 is required of a
// multicast instance only — a unicast instance's adverts may cross routers;
// an instance takes adverts by its own mode only (multicast to 224.0.0.18 when
// it has no unicast_peer, unicast to this host when it has); and with
// check_unicast_src a unicast advert must come from a configured peer.

import type { DropReason, FsmConfig, ReceivedAdvert } from './fsm-types.js';
import { AUTH_NONE, AUTH_PASS, authDataFromPassword } from './packet.js';

/** Why `rx` must be dropped, or undefined when the FSM should act on it. */
export function validateAdvert(rx: ReceivedAdvert, cfg: FsmConfig, localIp: string | undefined): { reason: DropReason; detail: string } | undefined {
  const a = rx.advert;
  const unicast = cfg.unicastPeers.length > 0;
  if (!unicast && rx.ttl !== 255) return { reason: 'ttl', detail: `TTL ${rx.ttl} from ${rx.src}, must be 255 (multicast)` };
  if (a.version !== cfg.version)
    return { reason: 'version-mismatch', detail: `VRRPv${a.version} from ${rx.src}, this instance runs v${cfg.version}` };
  if (localIp !== undefined && rx.src === localIp) return { reason: 'own-advert', detail: rx.src };
  if (a.version === 2) {
    const want = cfg.authPass === undefined ? AUTH_NONE : AUTH_PASS;
    if (a.authType !== want)
      return { reason: 'auth-mismatch', detail: `auth type ${a.authType} from ${rx.src}, configured ${want}` };
    if (want === AUTH_PASS && !a.authData.equals(authDataFromPassword(cfg.authPass)))
      return { reason: 'auth-mismatch', detail: `wrong password from ${rx.src}` };
    if (a.intervalCs !== cfg.advertIntervalCs)
      return {
        reason: 'interval-mismatch',
        detail: `advert_int ${a.intervalCs / 100}s from ${rx.src}, configured ${cfg.advertIntervalCs / 100}s`,
      };
  } else if (a.intervalCs === 0) {
    return { reason: 'bad-interval', detail: `Max Advertise Interval 0 from ${rx.src}` };
  }
  if (isMulticast(rx.dst) === unicast)
    return unicast
      ? { reason: 'wrong-destination', detail: `multicast advert from ${rx.src} to ${rx.dst}; this instance is unicast (unicast_peer)` }
      : { reason: 'wrong-destination', detail: `unicast advert from ${rx.src} to ${rx.dst}; this instance is multicast (no unicast_peer)` };
  if (unicast && cfg.checkUnicastSrc && !cfg.unicastPeers.includes(rx.src))
    return { reason: 'not-a-peer', detail: `${rx.src} is not in unicast_peer (check_unicast_src)` };
  return undefined;
}

/** 224.0.0.0/4, or IPv6's ff00::/8. */
function isMulticast(ip: string): boolean {
  if (ip.includes(':')) return /^ff/i.test(ip);
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return first >= 224 && first <= 239;
}
