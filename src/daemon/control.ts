// The daemon's control socket: a root-only unix stream socket speaking one
// JSON request per line and one JSON response per line. `vipd status` and
// `vipd reload` are its clients.

import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';

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

export async function startControlServer(path: string, handler: Handler): Promise<net.Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (await alive(path)) throw new Error(`another vipd is already running (its control socket ${path} answers); stop it first`);
  try {
    unlinkSync(path); // a stale socket left by a killed daemon
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 65536) return conn.destroy();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void answer(line).then((r) => conn.write(`${JSON.stringify(r)}\n`));
      }
    });
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

/** Send one request to the daemon at `path` and return its data, or throw with its error. */
export function request(path: string, req: Request, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`vipd at ${path} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.end();
      const r = JSON.parse(buf.slice(0, nl)) as Response;
      if (r.ok) resolve(r.data);
      else reject(new Error(r.error));
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? `no vipd is running with control socket ${path} (start it with 'vipd run' or 'systemctl start vipd', or pass -s SOCKET)`
          : err.code === 'EACCES'
            ? `permission denied on ${path}: the control socket is root-only (use sudo)`
            : err.message;
      reject(new Error(hint));
    });
  });
}
