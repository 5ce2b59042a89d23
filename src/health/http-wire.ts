// The bytes of an HTTP health check: the request (keepalived's http_protocol:
// 1.0, 1.0C, 1.1) and an incremental parser of the answer — status line,
// headers, then the body framed by Content-Length, chunked encoding or the
// connection's end (RFC 9112), at most BODY_LIMIT bytes. Lines may end in
// CRLF or a bare LF (as Node's parser, curl and keepalived accept). Interim
// 1xx answers (100 Continue, 103 Early Hints) are skipped; HEAD, 1xx, 204 and
// 304 answers have no body. Whatever is not HTTP is refused with a reason.

/** keepalived's http_protocol: the request line's version, and whether Connection: close is sent. */
export type HttpProtocol = '1.0' | '1.0C' | '1.1';
export const HTTP_PROTOCOLS: readonly HttpProtocol[] = ['1.0', '1.0C', '1.1'];

export const BODY_LIMIT = 1 << 20;
/** Status line and headers together (Node's default is 16 KiB). */
const HEAD_LIMIT = 64 << 10;
/** Methods whose request defines a body: an empty one is announced (Content-Length: 0). */
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * The request: `http_protocol` 1.1 (vipd's default) and 1.0C send Connection:
 * close, 1.0 sends none (HTTP/1.0 closes anyway). Host is the virtual host or
 * the address (IPv6 in brackets), with the port unless it is the scheme's.
 */
export function httpRequest(o: { method: string; path: string; host: string; port: number; tls: boolean; protocol?: HttpProtocol }): string {
  const protocol = o.protocol ?? '1.1';
  const host = o.port === (o.tls ? 443 : 80) ? o.host : `${o.host}:${o.port}`;
  return (
    `${o.method} ${o.path} HTTP/${protocol === '1.1' ? '1.1' : '1.0'}\r\nHost: ${host}\r\nUser-Agent: vipd-health-check\r\n` +
    `${protocol === '1.0' ? '' : 'Connection: close\r\n'}${WITH_BODY.has(o.method) ? 'Content-Length: 0\r\n' : ''}\r\n`
  );
}

/** What the parser reports as the answer arrives. */
export interface ResponseSink {
  /** The final status code, once its headers are complete; false stops the parser (the outcome is known). */
  head(code: number): boolean;
  /** Each piece of the decoded body, in order. */
  body(chunk: Buffer): void;
}

const enum St {
  Status,
  Header,
  Length,
  UntilClose,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailer,
  Done,
}
const PREFIX = Buffer.from('HTTP/');

/**
 * An HTTP/1.x answer, fed as it arrives: push() and end() return undefined
 * while more is needed, '' when the answer is complete, or why it is refused.
 */
export class ResponseParser {
  private st = St.Status;
  /** The part of a line not yet ended by LF. */
  private partial: Buffer | undefined;
  private headBytes = 0;
  private code = 0;
  private length = -1;
  private chunked = false;
  private left = 0;
  private bodyBytes = 0;

  constructor(
    private readonly sink: ResponseSink,
    /** The request was HEAD: the answer has no body whatever its headers say. */
    private readonly head: boolean,
  ) {}

  push(b: Buffer): string | undefined {
    let pos = 0;
    while (pos < b.length) {
      switch (this.st) {
        case St.Length:
        case St.ChunkData: {
          const n = Math.min(this.left, b.length - pos);
          const r = this.deliver(b.subarray(pos, pos + n));
          if (r !== undefined) return r;
          pos += n;
          this.left -= n;
          if (this.left === 0) {
            if (this.st === St.Length) return this.finish();
            this.st = St.ChunkEnd;
          }
          break;
        }
        case St.UntilClose: {
          const r = this.deliver(pos === 0 ? b : b.subarray(pos));
          return r;
        }
        case St.Done:
          return '';
        default: {
          const nl = b.indexOf(10, pos);
          if (nl < 0) {
            const rest = b.subarray(pos);
            this.partial = this.partial ? Buffer.concat([this.partial, rest]) : Buffer.from(rest);
            if (this.st === St.Status && this.headBytes === 0) return this.notStatusPrefix(this.partial) ?? this.lineTooLong(this.partial.length);
            return this.lineTooLong(this.partial.length);
          }
          let line = this.partial ? Buffer.concat([this.partial, b.subarray(pos, nl)]) : b.subarray(pos, nl);
          this.partial = undefined;
          pos = nl + 1;
          const over = this.lineTooLong(line.length + 1);
          if (over !== undefined) return over;
          if (line.length && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
          const r = this.line(line);
          if (r !== undefined) return r;
        }
      }
    }
    return this.st === St.Done ? '' : undefined;
  }

  /** The connection ended (the server closed it). */
  end(): string {
    switch (this.st) {
      case St.Done:
      case St.UntilClose:
        return this.st === St.UntilClose ? this.finish() : '';
      case St.Status:
        return this.partial || this.headBytes ? 'not HTTP: the answer ends inside its status line' : 'the server closed the connection without an answer';
      case St.Header:
        return `not HTTP: the answer ends inside its headers (HTTP ${this.code})`;
      case St.Length:
        return `HTTP ${this.code}, then the connection closed after ${this.length - this.left} of the ${this.length} bytes of its body`;
      default:
        return `HTTP ${this.code}, then the connection closed inside its chunked body`;
    }
  }

  /** An answer that cannot start "HTTP/" is refused before its first line ends (not at the timeout). */
  private notStatusPrefix(b: Buffer): string | undefined {
    const n = Math.min(b.length, PREFIX.length);
    return b.compare(PREFIX, 0, n, 0, n) === 0 ? undefined : `not HTTP: the answer starts ${JSON.stringify(b.toString('latin1', 0, 40))}`;
  }

  private lineTooLong(n: number): string | undefined {
    if (this.st === St.Status || this.st === St.Header || this.st === St.Trailer) {
      if (this.headBytes + n > HEAD_LIMIT) return `not HTTP: the ${this.st === St.Trailer ? 'trailer' : 'header'} is over ${HEAD_LIMIT >> 10} KiB`;
    } else if (n > 1024) return `HTTP ${this.code} but a line of its chunked body is over 1 KiB`;
    return undefined;
  }

  private line(l: Buffer): string | undefined {
    switch (this.st) {
      case St.Status: {
        this.headBytes += l.length + 1;
        const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(l.toString('latin1'));
        if (!m) return this.notStatusPrefix(l) ?? `not HTTP: the status line is ${JSON.stringify(l.toString('latin1', 0, 80))}`;
        this.code = Number(m[1]);
        this.length = -1;
        this.chunked = false;
        this.st = St.Header;
        return undefined;
      }
      case St.Header:
        this.headBytes += l.length + 1;
        return l.length === 0 ? this.endOfHead() : this.header(l);
      case St.ChunkSize: {
        const text = l.toString('latin1');
        const semi = text.indexOf(';'); // chunk extensions are ignored
        const hex = (semi < 0 ? text : text.slice(0, semi)).trim();
        if (!/^[0-9A-Fa-f]{1,8}$/.test(hex)) return `HTTP ${this.code} but its chunked body has a chunk size ${JSON.stringify(text.slice(0, 40))}`;
        this.left = parseInt(hex, 16);
        if (this.left === 0) this.st = St.Trailer;
        else if (this.bodyBytes + this.left > BODY_LIMIT) return this.overLimit();
        else this.st = St.ChunkData;
        return undefined;
      }
      case St.ChunkEnd:
        if (l.length) return `HTTP ${this.code} but a chunk of its body is longer than its size`;
        this.st = St.ChunkSize;
        return undefined;
      default: // Trailer: fields until an empty line, ignored
        this.headBytes += l.length + 1;
        return l.length === 0 ? this.finish() : undefined;
    }
  }

  private header(l: Buffer): string | undefined {
    if (l[0] === 32 || l[0] === 9) return undefined; // obsolete line folding: a continuation, ignored
    const colon = l.indexOf(58);
    if (colon <= 0) return `not HTTP: a header line without a name and colon: ${JSON.stringify(l.toString('latin1', 0, 60))}`;
    // Only the framing headers matter: Content-Length (14) and Transfer-Encoding (17).
    if (colon !== 14 && colon !== 17) return undefined;
    const name = l.toString('latin1', 0, colon).toLowerCase();
    if (name === 'content-length') {
      const v = l.toString('latin1', colon + 1).trim();
      if (!/^\d{1,15}$/.test(v)) return `not HTTP: Content-Length ${JSON.stringify(v.slice(0, 40))} is not a number`;
      if (this.length >= 0 && this.length !== Number(v)) return `not HTTP: two Content-Length headers, ${this.length} and ${v}`;
      this.length = Number(v);
    } else if (name === 'transfer-encoding') {
      const codings = l.toString('latin1', colon + 1).toLowerCase().split(',');
      this.chunked = codings[codings.length - 1]!.trim() === 'chunked';
    }
    return undefined;
  }

  private endOfHead(): string | undefined {
    const code = this.code;
    if (code >= 100 && code < 200 && code !== 101) {
      this.st = St.Status; // an interim answer: the final one follows
      return undefined;
    }
    if (!this.sink.head(code)) {
      this.st = St.Done;
      return '';
    }
    if (this.head || code < 200 || code === 204 || code === 304) return this.finish();
    if (this.chunked) this.st = St.ChunkSize;
    else if (this.length >= 0) {
      if (this.length > BODY_LIMIT) return this.overLimit(this.length);
      if (this.length === 0) return this.finish();
      this.left = this.length;
      this.st = St.Length;
    } else this.st = St.UntilClose; // neither (or a coding other than chunked last): the body ends with the connection
    return undefined;
  }

  private deliver(piece: Buffer): string | undefined {
    this.bodyBytes += piece.length;
    if (this.bodyBytes > BODY_LIMIT) return this.overLimit();
    if (piece.length) this.sink.body(piece);
    return undefined;
  }

  private overLimit(size?: number): string {
    return `HTTP ${this.code} but its body is over ${BODY_LIMIT >> 20} MiB${size !== undefined ? ` (Content-Length ${size})` : ''}, more than vipd reads`;
  }

  private finish(): string {
    this.st = St.Done;
    return '';
  }
}
