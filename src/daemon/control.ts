// The daemon's control socket: a root-only unix stream socket speaking one
// JSON request per line and one JSON response per line. `vipd status` and
// `vipd reload` are its clients.

import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { ensureOwnDir } from '../state-file.js';

/** A request longer than this (bytes, across however many reads) closes the connection. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A client that sends nothing for this long while no answer is pending is disconnected. */
export const IDLE_TIMEOUT_MS = 10_000;

export type Request = { cmd: 'status' } | { cmd: 'reload' } | { cmd: 'rs'; action: 'disable' | 'drain' | 'enable'; vs: string; rs: string };
export type Response = { ok: true; data: unknown } | { ok: false; error: string };
export type Handler = (req: Request) => Promise<unknown>;

function isRequest(x: unknown): x is Request {
  const r = x as { cmd?: unknown; action?: unknown; vs?: unknown; rs?: unknown } | null;
  if (r?.cmd === 'rs') return ['disable', 'drain', 'enable'].includes(r.action as string) && typeof r.vs === 'string' && typeof r.rs === 'string';
  return r?.cmd === 'status' || r?.cmd === 'reload';
}

/** Connect to `path`; true if a daemon answers there. */
function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** What is at `path`, when it is something vipd must not remove. */
function notASocket(path: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `cannot be checked (${(err as NodeJS.ErrnoException).code})`;
  }
  if (st.isSocket()) return undefined;
  return st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a socket';
}

export interface ControlOptions {
  maxRequestBytes?: number;
  idleTimeoutMs?: number;
}

export async function startControlServer(path: string, handler: Handler, opts: ControlOptions = {}): Promise<net.Server> {
  const maxBytes = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const idleMs = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  ensureOwnDir(dirname(path));
  // Only a stale socket is ever removed: never a file (the config itself), a directory or a symlink.
  const what = notASocket(path);
  if (what) throw new Error(`control socket ${path} is ${what}, not a socket; vipd removes only a stale socket: set global.control_socket to a free path`);
  if (await alive(path)) throw new Error(`another vipd is already running (its control socket ${path} answers); stop it first`);
  try {
    unlinkSync(path); // a stale socket left by a killed daemon
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const server = net.createServer((conn) => {
    // One request per line; its size counted in bytes since the last newline, whatever the reads.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let answering = 0;
    let idle: NodeJS.Timeout | undefined;
    let refused = false;
    const arm = () => {
      clearTimeout(idle);
      idle = answering === 0 ? setTimeout(() => conn.destroy(), idleMs) : undefined;
    };
    arm();
    conn.on('data', (chunk: Buffer) => {
      if (refused) return;
      let start = 0;
      for (let nl; (nl = chunk.indexOf(0x0a, start)) >= 0; start = nl + 1) {
        if (pendingBytes + nl - start > maxBytes) return tooLong();
        pending.push(chunk.subarray(start, nl));
        const line = Buffer.concat(pending).toString('utf8');
        pending = [];
        pendingBytes = 0;
        answering++;
        void answer(line).then((r) => {
          answering--;
          if (!conn.destroyed) conn.write(`${JSON.stringify(r)}\n`);
          arm();
        });
      }
      if (pendingBytes + chunk.length - start > maxBytes) return tooLong();
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
      }
      arm();
    });
    const tooLong = () => {
      refused = true;
      clearTimeout(idle);
      conn.end(`${JSON.stringify({ ok: false, error: `request longer than ${maxBytes} bytes` })}\n`);
      conn.destroySoon();
      pending = [];
    };
    conn.on('close', () => clearTimeout(idle));
    conn.on('error', () => undefined);
  });
  const answer = async (line: string): Promise<Response> => {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    if (!isRequest(req)) return { ok: false, error: 'unknown command; valid: status, reload, rs' };
    try {
      return { ok: true, data: await handler(req) };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Created 0600 from the start: no window in which others could connect.
    const old = process.umask(0o177);
    server.listen(path, () => {
      process.umask(old);
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

export function closeControlServer(server: net.Server, path: string): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  });
}

/** Send one request to the daemon at `path` and return its data, or throw a one-line error naming the fix. */
export function request(path: string, req: Request, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const finish = (err: Error | undefined, data?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(data);
    };
    const notVipd = (what: string) => new Error(`${path} ${what}: is a vipd daemon listening there? (check -s SOCKET or global.control_socket)`);
    const timer = setTimeout(() => finish(new Error(`vipd at ${path} did not answer within ${timeoutMs} ms`)), timeoutMs);
    const s = net.connect(path);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 256 * 1024 * 1024) finish(notVipd('sent more than 256 MiB without a line end'));
        return;
      }
      let r: Partial<{ ok: boolean; data: unknown; error: unknown }>;
      try {
        r = JSON.parse(buf.slice(0, nl)) as typeof r;
      } catch {
        return finish(notVipd(`answered something that is not JSON (${JSON.stringify(buf.slice(0, 40))}...)`));
      }
      if (r?.ok === true) finish(undefined, r.data);
      else if (r?.ok === false && typeof r.error === 'string') finish(new Error(r.error));
      else finish(notVipd('answered JSON that is not a vipd response'));
    });
    s.on('end', () => finish(notVipd('closed the connection without a complete answer')));
    s.on('close', () => finish(notVipd('closed the connection without a complete answer')));
    s.on('error', (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? `no vipd is running with control socket ${path} (start it with 'vipd run' or 'systemctl start vipd', or pass -s SOCKET)`
          : err.code === 'EACCES' || err.code === 'EPERM'
            ? `permission denied on ${path}: the control socket is root-only (use sudo)`
            : err.code === 'ENOTSOCK' || err.code === 'ENOTDIR'
              ? `${path} is not a socket: pass the daemon's control socket with -s SOCKET`
              : err.code === 'ECONNRESET' || err.code === 'EPIPE'
                ? `${path} closed the connection without a complete answer: is a vipd daemon listening there? (check -s SOCKET or global.control_socket)`
                : `cannot talk to ${path}: ${err.code ?? err.message}`;
      finish(new Error(hint));
    });
  });
}
