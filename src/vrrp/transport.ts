// VRRP over raw IPv4 (protocol 112), one socket per interface, shared by every
// instance on that interface (demultiplexed by VRID by the caller).
//
// We write the IPv4 header ourselves (IP_HDRINCL): it is the only way to pick
// the source address for unicast peers without bind(), and it pins TOS 0xc0 and
// TTL 255 (a unicast advert's TTL is unicast_ttl, 255 by default). The kernel
// fills in the IP ID and header checksum. SO_BINDTODEVICE keeps receive and
// send on the interface. A raw IPv4 socket receives the IP header too, so each
// advert's destination (multicast or unicast) and TTL are known.

import { EventEmitter } from 'node:events';
import raw, { type Socket as RawSocket } from 'raw-socket';
import { ipv4ToBytes, parseIpv4 } from './ipv4.js';
import { decodeAdvert, type ChecksumForm, type DecodeError, type VrrpAdvert, VRRP_MULTICAST_V4, VRRP_PROTOCOL, VRRP_TOS, VRRP_TTL } from './packet.js';

const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const IP_MULTICAST_IF = 32;
const IP_MULTICAST_LOOP = 34;
const IP_ADD_MEMBERSHIP = 35;

export interface ReceivedPacket {
  advert: VrrpAdvert;
  src: string;
  dst: string;
  ttl: number;
  tos: number;
  checksum: ChecksumForm;
}

export type TransportDropReason = DecodeError | 'bad-ip-header' | 'not-vrrp' | 'unknown-vrid';

export interface TransportCounters {
  received: number;
  sent: number;
  sendErrors: number;
  dropped: Partial<Record<TransportDropReason, number>>;
}

/** 12-byte struct ip_mreqn: multiaddr, local address, ifindex. */
function ipMreqn(group: string, local: string, ifindex: number): Buffer {
  const b = Buffer.alloc(12);
  ipv4ToBytes(group).copy(b, 0);
  ipv4ToBytes(local).copy(b, 4);
  b.writeInt32LE(ifindex, 8);
  return b;
}

/** The IPv4 header we send adverts with. */
export function vrrpIpHeader(src: string, dst: string, payloadLength: number, ttl = VRRP_TTL): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = VRRP_TOS;
  h.writeUInt16BE(20 + payloadLength, 2);
  h[8] = ttl;
  h[9] = VRRP_PROTOCOL;
  ipv4ToBytes(src).copy(h, 12);
  ipv4ToBytes(dst).copy(h, 16);
  return h;
}

export interface VrrpSocketEvents {
  packet: [ReceivedPacket];
  drop: [TransportDropReason, string];
  error: [Error];
}

/**
 * What the router and instances see of a VRRP socket, IPv4 (VrrpSocket) or
 * IPv6 (VrrpSocket6, transport6.ts): packets in, counted drops, sends.
 */
export abstract class VrrpTransport extends EventEmitter<VrrpSocketEvents> {
  readonly counters: TransportCounters = { received: 0, sent: 0, sendErrors: 0, dropped: {} };
  protected closed = false;

  constructor(
    readonly ifname: string,
    readonly ifindex: number,
  ) {
    super();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Send one VRRP message from `src` to `dst` (the multicast group or a unicast peer); `ttl`: IPv4 unicast_ttl (IPv6 sends hop limit 255). */
  abstract send(src: string, dst: string, payload: Buffer, ttl?: number): Promise<void>;

  abstract close(): void;

  protected drop(reason: TransportDropReason, detail: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.emit('drop', reason, detail);
  }

  /** Decodes a received VRRP message (the IP payload) and emits it, or counts the drop. */
  protected deliver(payload: Buffer, src: string, dst: string, ttl: number, tos: number): void {
    // decodeAdvert copies what it keeps: the caller may reuse `payload`.
    const d = decodeAdvert(payload, src, dst);
    if (!d.ok) return this.drop(d.reason, `${d.detail} from ${src}`);
    this.emit('packet', { advert: d.advert, src, dst, ttl, tos, checksum: d.checksum });
  }

  /** Counts a send's outcome. */
  protected counted(send: Promise<void>): Promise<void> {
    return send.then(
      () => {
        this.counters.sent++;
      },
      (err: unknown) => {
        this.counters.sendErrors++;
        throw err;
      },
    );
  }
}

export class VrrpSocket extends VrrpTransport {
  private sock: RawSocket;

  constructor(ifname: string, ifindex: number) {
    super(ifname, ifindex);
    this.sock = raw.createSocket({ protocol: VRRP_PROTOCOL, addressFamily: raw.AddressFamily.IPv4, bufferSize: 65535 });
    const dev = Buffer.from(`${ifname}\0`);
    this.sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length);
    this.sock.setOption(IPPROTO_IP, IP_HDRINCL, 1);
    this.sock.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
    const mreq = ipMreqn('0.0.0.0', '0.0.0.0', ifindex);
    this.sock.setOption(IPPROTO_IP, IP_MULTICAST_IF, mreq, mreq.length);
    this.joinMulticast();
    this.sock.on('message', (buf, source) => this.onMessage(buf, source));
    this.sock.on('error', (err) => {
      // raw-socket closes the socket after an error event; the owner reopens.
      this.closed = true;
      this.emit('error', err);
    });
  }

  /** (Re-)join 224.0.0.18 on the interface; harmless if already a member. */
  joinMulticast(): void {
    const m = ipMreqn(VRRP_MULTICAST_V4, '0.0.0.0', this.ifindex);
    try {
      this.sock.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, m, m.length);
    } catch (err) {
      if (!/EADDRINUSE|Address already in use/.test(String(err))) throw err;
    }
  }

  /** Send one VRRP message from `src` to `dst` (the multicast group or a unicast peer), with IP TTL `ttl`. */
  send(src: string, dst: string, payload: Buffer, ttl = VRRP_TTL): Promise<void> {
    const pkt = Buffer.concat([vrrpIpHeader(src, dst, payload.length, ttl), payload]);
    return this.counted(
      new Promise((resolve, reject) => {
        this.sock.send(pkt, 0, pkt.length, dst, null, (err) => (err ? reject(err) : resolve()));
      }),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }

  private onMessage(buf: Buffer, source: string): void {
    this.counters.received++;
    const ip = parseIpv4(buf);
    if (!ip.ok) return this.drop(ip.reason, `from ${source}`);
    if (ip.header.protocol !== VRRP_PROTOCOL) return this.drop('not-vrrp', `protocol ${ip.header.protocol}`);
    this.deliver(ip.payload, ip.header.src, ip.header.dst, ip.header.ttl, ip.header.tos);
  }
}
