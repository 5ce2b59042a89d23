// VRRPv3 over IPv6 (RFC 5798 5.1.2): one raw socket (protocol 112) per
// interface, through the native addon — hop limit 255 and traffic class 0xc0
// set on the socket, the source (the interface's link-local address, or
// unicast_src_ip) chosen per datagram with IPV6_PKTINFO, and the hop limit
// and destination of each received datagram reported by the kernel, so the
// receive rules can check them as they check the IPv4 TTL.

import { bytesToIpv6 } from '../net/inet.js';
import { native, type WatchHandle } from '../net/native.js';
import { VrrpTransport } from './transport.js';

export class VrrpSocket6 extends VrrpTransport {
  private readonly fd: number;
  private readonly watch: WatchHandle;

  constructor(ifname: string, ifindex: number) {
    super(ifname, ifindex);
    const n = native();
    this.fd = n.vrrp6Open(ifname, ifindex);
    this.watch = n.watch(this.fd, () => this.drain());
  }

  send(src: string, dst: string, payload: Buffer): Promise<void> {
    return this.counted(
      new Promise<void>((resolve) => {
        native().vrrp6Send(this.fd, src, dst, this.ifindex, payload);
        resolve();
      }),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const n = native();
    n.unwatch(this.watch);
    n.close(this.fd);
  }

  private drain(): void {
    const n = native();
    while (!this.closed) {
      let d;
      try {
        d = n.vrrp6Recv(this.fd);
      } catch (err) {
        this.close();
        this.emit('error', err as Error);
        return;
      }
      if (d === null) return;
      this.counters.received++;
      const src = bytesToIpv6(d.src);
      if (d.truncated) {
        this.drop('truncated', `datagram larger than 64 KiB from ${src}`);
        continue;
      }
      this.deliver(d.payload, src, bytesToIpv6(d.dst), d.hopLimit, 0);
    }
  }
}
