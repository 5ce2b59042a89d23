// Loads the compiled addon (build/Release/vipd_native.node, built by `npm ci`).
// ESM cannot import a .node file, so go through createRequire.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ExchangeHandle {
  readonly __exchange: unique symbol;
}

export interface WatchHandle {
  readonly __watch: unique symbol;
}

export interface NativeAddon {
  nlOpen(protocol: number, groups: number): number;
  nlPortId(fd: number): number;
  /** One queued datagram, without waiting; null when none is queued. */
  nlRecv(fd: number): Buffer | null;
  /** Sends the requests chunkMessages per datagram and after each reads until every request in it has its NLMSG_DONE / NLMSG_ERROR (or timeoutMs passes); every datagram read, concatenated. */
  nlExchange(fd: number, requests: Buffer, chunkMessages: number, chunkBytes: number, timeoutMs: number): Buffer;
  /** The real servers in answers to IPVS GET_DEST dumps as records of 32-bit words (native/ipvs_dump.cc; src/ipvs/dump-records.ts reads them). */
  ipvsDests(answers: Buffer, firstSeq: number, status: Int32Array, starts: Uint32Array, withStats: boolean): Uint32Array;
  /** The 32-bit words in one of ipvsDests' records. */
  ipvsDestStride: number;
  ipvsDestLeanStride: number;
  /** The services in answers to IPVS GET_SERVICE dumps, the same way. */
  ipvsServices(answers: Buffer, firstSeq: number, status: Int32Array, starts: Uint32Array, withStats: boolean): Uint32Array;
  ipvsServiceStride: number;
  ipvsServiceLeanStride: number;
  close(fd: number): void;
  watch(fd: number, cb: (status: number) => void): WatchHandle;
  unwatch(handle: WatchHandle): void;
  packetSend(ifindex: number, frame: Buffer): void;
  unixDgramSend(path: string, buf: Buffer): void;
  /** Non-blocking TCP connect then close: cb('') connected, cb('ECONNREFUSED') ...; a code at once if the socket could not be set up or connect() failed at once. With opts.keep a connected socket is not closed: cb('', fd). */
  tcpProbe(address: string, port: number, cb: (code: string, fd?: number) => void, opts?: CheckSocketOptions): ProbeHandle | string;
  tcpProbeCancel(handle: ProbeHandle): void;
  /**
   * Connect with the check's options, write `request`, then cb('', chunk) for each piece of
   * the answer, cb('', null) at its end, cb(code) for an error; a code at once if the socket
   * could not be set up or connect() failed at once. No callback after tcpExchangeCancel
   * (also safe from inside cb).
   */
  tcpExchange(address: string, port: number, request: Buffer, cb: (code: string, chunk: Buffer | null) => void, opts?: CheckSocketOptions): ExchangeHandle | string;
  tcpExchangeCancel(handle: ExchangeHandle): void;
  /** A non-blocking connected UDP socket with the options; a code when it could not be set up. */
  udpOpen(address: string, port: number, opts?: CheckSocketOptions): number | string;
  /** One datagram: '' or the errno name. */
  sockSend(fd: number, buf: Buffer): string;
  /** One queued datagram, the socket's error name (an ICMP error: 'ECONNREFUSED'), or null when none is queued. */
  sockRecv(fd: number): Buffer | string | null;
  /** Raw IPv6 socket for VRRP on one interface (hop limit 255, tclass 0xc0, no loopback, ff02::12 joined). */
  vrrp6Open(ifname: string, ifindex: number): number;
  /** One queued datagram, without waiting; null when none is queued. */
  vrrp6Recv(fd: number): Vrrp6Datagram | null;
  /** One datagram from `src` (IPV6_PKTINFO) to `dst` out of `ifindex`. */
  vrrp6Send(fd: number, src: string, dst: string, ifindex: number, payload: Buffer): void;
  /** The kernel's process connector, subscribed (PROC_CN_MCAST_LISTEN); throws ECONNREFUSED outside the initial network namespace. */
  procConnOpen(rcvbuf: number): number;
  /** The events of one queued datagram (fork, exec, comm, exit); null when none is queued; throws ENOBUFS after a loss. */
  procConnRecv(fd: number): ProcEvent[] | null;
  /** PROC_CN_MCAST_IGNORE, then close. */
  procConnClose(fd: number): void;
}

/** One process event from the kernel's process connector. pid is the thread, tgid the process. */
export interface ProcEvent {
  what: 'fork' | 'exec' | 'comm' | 'exit';
  pid: number;
  tgid: number;
  /** fork: the parent process. */
  parentTgid?: number;
  /** comm: the new name. */
  comm?: string;
}

export interface Vrrp6Datagram {
  /** 16 bytes each. */
  src: Buffer;
  dst: Buffer;
  /** -1 if the kernel did not say. */
  hopLimit: number;
  ifindex: number;
  truncated: boolean;
  payload: Buffer;
}

/** keepalived's connection options of a checker, applied before connect(): bindto, bind_port, bind_if (SO_BINDTODEVICE), fwmark (SO_MARK). */
export interface CheckSocketOptions {
  bindto?: string;
  bindPort?: number;
  bindIf?: string;
  fwmark?: number;
  keep?: boolean;
}

export interface ProbeHandle {
  readonly __probe: unique symbol;
}

/** An error from a system call, as the addon throws it. */
export interface SysError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

let addon: NativeAddon | undefined;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('vipd: package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function native(): NativeAddon {
  if (addon) return addon;
  const root = packageRoot();
  const file = join(root, 'build', 'Release', 'vipd_native.node');
  if (!existsSync(file)) {
    throw new Error(`vipd: native addon missing (${file}); build it with "npm ci" or "npm run install" in ${root}`);
  }
  addon = createRequire(import.meta.url)(file) as NativeAddon;
  return addon;
}
