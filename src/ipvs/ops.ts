// The writes vipd makes to the kernel's IPVS table, as values: what each one
// says in a log line, and what an operator should do about a kernel error the
// code alone does not explain. Pure.

import type { NetlinkError } from '../net/netlink.js';
import { type Dest, type DestKey, destName, type Service, type ServiceKey, serviceName } from './types.js';

/** One write to the kernel's table. */
export type IpvsOp =
  | { op: 'add-service'; service: Service }
  | { op: 'edit-service'; service: Service }
  | { op: 'del-service'; key: ServiceKey }
  | { op: 'add-dest'; service: ServiceKey; dest: Dest }
  | { op: 'edit-dest'; service: ServiceKey; dest: Dest }
  | { op: 'del-dest'; service: ServiceKey; dest: DestKey };

export function describeOp(o: IpvsOp): string {
  switch (o.op) {
    case 'add-service':
      return `add service ${serviceName(o.service.key)} (${o.service.scheduler})`;
    case 'edit-service':
      return `edit service ${serviceName(o.service.key)} (${o.service.scheduler})`;
    case 'del-service':
      return `delete service ${serviceName(o.key)}`;
    case 'add-dest':
      return `add real server ${destName(o.dest.key)} to ${serviceName(o.service)} (${o.dest.forwarding}, weight ${o.dest.weight})`;
    case 'edit-dest':
      return `edit real server ${destName(o.dest.key)} of ${serviceName(o.service)} (${o.dest.forwarding}, weight ${o.dest.weight})`;
    case 'del-dest':
      return `delete real server ${destName(o.dest)} from ${serviceName(o.service)}`;
  }
}

/** What an operator should do about a kernel error, where the code alone does not say. */
export function fixFor(o: IpvsOp, code: string): string | undefined {
  const scheduler = o.op === 'add-service' || o.op === 'edit-service' ? o.service.scheduler : '';
  switch (`${o.op} ${code}`) {
    case 'add-service ENOENT':
    case 'edit-service ENOENT':
      return `this kernel has no scheduler "${scheduler}": load it (modprobe ip_vs_${scheduler}) or choose another`;
    case 'add-service EEXIST':
      return 'the service already exists in the kernel';
    case 'add-dest EEXIST':
      return 'the real server is already in this service';
    case 'add-dest EINVAL':
    case 'edit-dest EINVAL':
      return 'the kernel refused the real server: its address must be unicast (and for IPv6 not link-local), and the tunnel type must be one this kernel has';
    case 'add-dest ESRCH':
    case 'edit-dest ESRCH':
    case 'del-dest ESRCH':
    case 'edit-service ESRCH':
    case 'del-service ESRCH':
      return 'the service is not in the kernel';
    case 'edit-dest ENOENT':
    case 'del-dest ENOENT':
      return 'the real server is not in this service';
  }
  return code === 'EPERM' ? 'IPVS needs CAP_NET_ADMIN: run vipd as root' : undefined;
}

export interface OpResult {
  op: IpvsOp;
  error?: NetlinkError;
}
