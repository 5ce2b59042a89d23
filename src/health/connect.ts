// The sockets of the checks, with keepalived's connection options applied
// before connect(), as keepalived's checkers apply them: fwmark (SO_MARK),
// bind_if (SO_BINDTODEVICE), bindto and bind_port (bind). TCP goes through the
// addon's non-blocking connect (handed to a net.Socket once connected, for a
// check that talks); net.connect serves a check with no option but bindto.
// UDP goes through the addon's connected datagram socket, watched on the loop.

import net from 'node:net';
import { type CheckSocketOptions, native } from '../net/native.js';
import type { CheckSpec } from './types.js';

export function socketOptions(s: CheckSpec): CheckSocketOptions {
  return {
    ...(s.bindto !== undefined ? { bindto: s.bindto } : {}),
    ...(s.bindPort !== undefined ? { bindPort: s.bindPort } : {}),
    ...(s.bindIf !== undefined ? { bindIf: s.bindIf } : {}),
    ...(s.fwmark !== undefined ? { fwmark: s.fwmark } : {}),
  };
}

/** The check's socket options, or undefined when it has none (the addon then reads no property). */
export function socketOptionsIfAny(s: CheckSpec): CheckSocketOptions | undefined {
  const o = socketOptions(s);
  return Object.keys(o).length > 0 ? o : undefined;
}

/** Options net.connect cannot apply: a mark, a device, a fixed source port freed at once (a reset ends the connection, no TIME_WAIT). */
const needsAddon = (s: CheckSpec): boolean => s.bindPort !== undefined || s.bindIf !== undefined || s.fwmark !== undefined;

/**
 * A TCP connection for a check that talks: `onConnected` with the connected
 * socket (the check adds its own listeners), or `onFailed` with the errno name
 * ("ECONNREFUSED", "EPERM (SO_MARK)"). Returns the release.
 */
export function connectTcp(s: CheckSpec, onConnected: (c: net.Socket) => void, onFailed: (code: string) => void): () => void {
  if (!needsAddon(s)) {
    const c = net.connect({ host: s.address, port: s.port, ...(s.bindto !== undefined ? { localAddress: s.bindto } : {}) });
    let up = false;
    c.once('connect', () => {
      up = true;
      onConnected(c);
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      if (!up) onFailed(err.code ?? err.message);
    });
    return () => c.destroy();
  }
  let sock: net.Socket | undefined;
  const r = native().tcpProbe(
    s.address,
    s.port,
    (code, fd) => {
      if (fd === undefined) return onFailed(code || 'EUNKNOWN');
      sock = new net.Socket({ fd, readable: true, writable: true });
      onConnected(sock);
    },
    { ...socketOptions(s), keep: true },
  );
  if (typeof r === 'string') {
    onFailed(r);
    return () => {};
  }
  return () => {
    native().tcpProbeCancel(r);
    sock?.destroy();
  };
}

/**
 * One datagram to the check's address and port from a connected socket, and
 * what comes back: `onMessage` for each reply, `onError` with the errno name of
 * the socket's error (an ICMP error reads as ECONNREFUSED, EHOSTUNREACH ...) or
 * of the send (`sending` true). Returns the release.
 */
export function udpExchange(s: CheckSpec, payload: Buffer, onMessage: (m: Buffer) => void, onError: (code: string, sending: boolean) => void): () => void {
  const n = native();
  const fd = n.udpOpen(s.address, s.port, socketOptions(s));
  if (typeof fd === 'string') {
    onError(fd, false);
    return () => {};
  }
  let closed = false;
  const watch = n.watch(fd, () => {
    while (!closed) {
      const m = n.sockRecv(fd);
      if (m === null) return;
      if (typeof m === 'string') return onError(m, false);
      onMessage(m);
    }
  });
  const release = (): void => {
    if (closed) return;
    closed = true;
    n.unwatch(watch);
    n.close(fd);
  };
  const sent = n.sockSend(fd, payload);
  if (sent) onError(sent, true);
  return release;
}
