// The addr and proto labels of an IPVS service (keepalived_exporter's label names).

import { destName, type ServiceKey } from '../ipvs/types.js';

/** "10.0.0.1:80", "[2001:db8::1]:80" or "fwmark:N". */
export function addrOf(k: ServiceKey): string {
  return k.fwmark !== undefined ? `fwmark:${k.fwmark}` : destName({ address: k.address, port: k.port });
}

/** tcp, udp, sctp, or fwmark. */
export function protoOf(k: ServiceKey): string {
  return k.fwmark !== undefined ? 'fwmark' : k.protocol;
}
