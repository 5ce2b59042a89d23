import { native } from './native.js';

/** Sends one datagram to a unix socket path ('@name' = abstract namespace). */
export function sendUnixDatagram(path: string, data: string | Buffer): void {
  native().unixDgramSend(path, typeof data === 'string' ? Buffer.from(data) : data);
}
