// The receive rules of RFC 5798 section 6.4 (RFC 3768 for v2) that decide
// whether a decoded advertisement is acted upon at all: TTL, version, our own
// advert, unicast peers, authentication and interval. Pure: the FSM drops what
// this rejects, with the reason it gives (counted per instance).

import type { DropReason, FsmConfig, ReceivedAdvert } from './fsm-types.js';
import { AUTH_NONE, AUTH_PASS, authDataFromPassword } from './packet.js';

/** Why `rx` must be dropped, or undefined when the FSM should act on it. */
export function validateAdvert(rx: ReceivedAdvert, cfg: FsmConfig, localIp: string | undefined): { reason: DropReason; detail: string } | undefined {
  const a = rx.advert;
  if (rx.ttl !== 255) return { reason: 'ttl', detail: `TTL ${rx.ttl} from ${rx.src}, must be 255` };
  if (a.version !== cfg.version)
    return { reason: 'version-mismatch', detail: `VRRPv${a.version} from ${rx.src}, this instance runs v${cfg.version}` };
  if (localIp !== undefined && rx.src === localIp) return { reason: 'own-advert', detail: rx.src };
  if (cfg.unicastPeers.length > 0 && !cfg.unicastPeers.includes(rx.src))
    return { reason: 'not-a-peer', detail: `${rx.src} is not in unicast_peer` };
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
  return undefined;
}
