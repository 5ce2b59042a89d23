// The netlink sockets over the native addon: a synchronous request client
// (batches of requests, their ACKs, dumps and errors) and a monitor of a
// multicast group. The framing itself is netlink.ts (pure).

import { native } from './native.js';
import {
  align4,
  eachMessage,
  errnoName,
  messageAt,
  NetlinkError,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  type NlMessage,
  parseError,
  parseMessages,
  type Payload,
  payloadSize,
  writeMessage,
} from './netlink.js';

const nameOf = (r: BatchRequest): string => (typeof r.operation === 'function' ? r.operation() : r.operation);
/** A dump ends with NLMSG_DONE; any other request is sent with NLM_F_ACK, so every answer has an end the addon sees. */
const ackUnlessDump = (r: BatchRequest): number => ((r.flags & NLM_F_DUMP) === NLM_F_DUMP ? 0 : NLM_F_ACK);
/** Throws the first request's error, if any. */
function throwFirst(errors: readonly (NetlinkError | undefined)[]): void {
  const e = errors.find((x) => x !== undefined);
  if (e) throw e;
}

/** A netlink socket used for request/response (one outstanding batch at a time). */
export class NetlinkSocket {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private closed = false;

  constructor(
    readonly protocol: number,
    /** Reply timeout; the kernel answers in microseconds, this only guards against a lost reply. */
    private readonly timeoutMs = 5000,
  ) {
    this.fd = native().nlOpen(protocol, 0);
  }

  /** `n` consecutive sequence numbers (never 0, never wrapping inside the range); the first. */
  private takeSeqs(n: number): number {
    if (this.seq + n > 0xffffffff) this.seq = 0;
    const first = this.seq + 1;
    this.seq += n;
    return first;
  }

  /**
   * Sends one request and collects the answer: the data messages of a dump (until
   * NLMSG_DONE), or the reply before the ACK. A kernel error throws NetlinkError
   * naming `operation`.
   */
  request(type: number, flags: number, payload: Payload, operation: string): NlMessage[] {
    return this.requestMany([{ type, flags, payload, operation }])[0]!;
  }

  /**
   * Runs requests one after another (a socket runs one dump at a time) in a single
   * call into the addon — a whole-table IPVS dump is a thousand dumps — and returns
   * each one's answer: its data messages. Requests that are not dumps are sent with
   * NLM_F_ACK so every answer has an end the addon can see. The first kernel error,
   * or a request left without an answer, throws NetlinkError naming its operation.
   */
  requestMany(reqs: readonly BatchRequest[]): NlMessage[][] {
    const out = reqs.map((): NlMessage[] => []);
    this.requestEach(reqs, (i, buf, off, len) => out[i]!.push(messageAt(buf, off, len)));
    return out;
  }

  /**
   * requestMany() without the message objects: `onData(i, buf, off, len)` sees each
   * data message of request i where it lies in the answer buffer (its header at
   * `off`). A 10,000-server dump is decoded straight from there.
   */
  requestEach(reqs: readonly BatchRequest[], onData: (i: number, buf: Buffer, off: number, len: number) => void): void {
    throwFirst(this.exchange(reqs, 1, 0, ackUnlessDump, onData));
  }

  /**
   * Sends many requests, several per datagram (up to `chunkBytes` and
   * `chunkMessages`: the kernel handles a datagram's messages before sendmsg
   * returns, so all their ACKs must fit the receive buffer at once), each with
   * NLM_F_ACK, and matches every ACK or error to its request by sequence
   * number. The kernel carries on after a failed message, so one bad operation
   * leaves the others applied. Returns, per request, undefined (done) or its error.
   */
  batch(reqs: readonly BatchRequest[], chunkBytes = 64 * 1024, chunkMessages = 128): (NetlinkError | undefined)[] {
    return this.exchange(reqs, chunkMessages, chunkBytes, () => NLM_F_ACK);
  }

  /**
   * Dumps whose answers the caller reads itself (the addon's IPVS dump readers):
   * run as requestEach() runs them, returned as the addon gave them, with
   * the first request's sequence number (request i has first + i). `check()`
   * throws what requestEach() would: the first kernel error, or ETIMEDOUT for a
   * request left without an end.
   */
  dumpAnswers(reqs: readonly BatchRequest[]): { answers: Buffer; first: number; check(): void } {
    const { answers, first } = this.send(reqs, 1, 0, ackUnlessDump);
    return { answers, first, check: () => throwFirst(this.read(reqs, answers, first)) };
  }

  /**
   * The addon's nlExchange: sequence numbers, the wire built in one buffer, and the
   * answers matched back to their requests: per request its error (a kernel error,
   * or ETIMEDOUT when its answer never ended); data messages go to `onData`.
   * Answers are read in place: 11,000 ACKs make no objects.
   */
  private exchange(
    reqs: readonly BatchRequest[],
    chunkMessages: number,
    chunkBytes: number,
    extraFlags: (r: BatchRequest) => number,
    onData?: (i: number, buf: Buffer, off: number, len: number) => void,
  ): (NetlinkError | undefined)[] {
    if (!reqs.length) return [];
    const { answers, first } = this.send(reqs, chunkMessages, chunkBytes, extraFlags);
    return this.read(reqs, answers, first, onData);
  }

  /** Sends `reqs` through the addon (consecutive sequence numbers from `first`: the addon relies on it) and returns every answer. */
  private send(reqs: readonly BatchRequest[], chunkMessages: number, chunkBytes: number, extraFlags: (r: BatchRequest) => number): { answers: Buffer; first: number } {
    const first = this.takeSeqs(reqs.length);
    let size = 0;
    for (const r of reqs) size += align4(NLMSG_HDRLEN + payloadSize(r.payload));
    const wire = Buffer.alloc(size);
    let at = 0;
    reqs.forEach((r, i) => (at = writeMessage(wire, at, r.type, r.flags | NLM_F_REQUEST | extraFlags(r), first + i, r.payload)));
    return { answers: size ? native().nlExchange(this.fd, wire, chunkMessages, chunkBytes || wire.length, this.timeoutMs) : Buffer.alloc(0), first };
  }

  /** The answers matched to their requests (seq - first is the index): per request undefined or its error. */
  private read(reqs: readonly BatchRequest[], buf: Buffer, first: number, onData?: (i: number, buf: Buffer, off: number, len: number) => void): (NetlinkError | undefined)[] {
    const errors: (NetlinkError | undefined)[] = new Array(reqs.length).fill(undefined);
    const ended = new Uint8Array(reqs.length);
    eachMessage(buf, (off, len) => {
      const i = buf.readUInt32LE(off + 8) - first;
      if (i < 0 || i >= reqs.length) return; // a stale answer to an earlier, timed-out request
      const type = buf.readUInt16LE(off + 4);
      if (type === NLMSG_ERROR || type === NLMSG_DONE) ended[i] = 1;
      if (type === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4 && buf.readInt32LE(off + NLMSG_HDRLEN) !== 0) {
        const { errno, extAck } = parseError(messageAt(buf, off, len));
        errors[i] ??= new NetlinkError(errnoName(errno), errno, nameOf(reqs[i]!), extAck);
      } else if (onData && type !== NLMSG_ERROR && type !== NLMSG_DONE && type !== NLMSG_NOOP && type !== NLMSG_OVERRUN) onData(i, buf, off, len);
    });
    for (let i = 0; i < reqs.length; i++) if (!ended[i]) errors[i] ??= new NetlinkError('ETIMEDOUT', 110, nameOf(reqs[i]!));
    return errors;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().close(this.fd);
  }
}

export interface BatchRequest {
  type: number;
  flags: number;
  payload: Payload;
  /**
   * Names the operation in its error, e.g. "add real server 10.0.0.2:80 to TCP
   * 10.0.0.100:80"; a function is called only if there is an error (a table load
   * sends 11,000 requests and would build 11,000 names for nothing).
   */
  operation: string | (() => string);
}

/** A netlink socket subscribed to multicast groups; calls back on every readable event. */
export class NetlinkMonitor {
  private readonly fd: number;
  private readonly handle;
  private closed = false;

  constructor(protocol: number, groups: number, onMessages: (msgs: NlMessage[], overrun: boolean) => void) {
    const n = native();
    this.fd = n.nlOpen(protocol, groups);
    this.handle = n.watch(this.fd, () => {
      const msgs: NlMessage[] = [];
      let overrun = false;
      for (;;) {
        let buf: Buffer | null;
        try {
          buf = n.nlRecv(this.fd);
        } catch (err) {
          // ENOBUFS: the kernel dropped events; the caller re-reads the whole state.
          if ((err as { code?: string }).code === 'ENOBUFS') {
            overrun = true;
            continue;
          }
          throw err;
        }
        if (!buf) break;
        msgs.push(...parseMessages(buf));
      }
      if (!this.closed) onMessages(msgs, overrun);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().unwatch(this.handle);
    native().close(this.fd);
  }
}
