// Parses a changed config file off the daemon's main thread: 10,000 real servers
// are 0.3 s of YAML natively (seconds on a slow CPU), and the VRRP timers on the
// main thread must not wait for them — with advert_int 0.1 a backup declares the
// master dead after ~0.35 s of silence.

import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError, parseConfig } from './load.js';

export type ParseReply = { ok: true; cfg: unknown } | { ok: false; issues: ConfigError['issues'] } | { ok: false; message: string };

const { text, file } = workerData as { text: string; file: string };
let reply: ParseReply;
try {
  reply = { ok: true, cfg: parseConfig(text, file) };
} catch (err) {
  reply = err instanceof ConfigError ? { ok: false, issues: err.issues } : { ok: false, message: (err as Error).message };
}
parentPort!.postMessage(reply);
