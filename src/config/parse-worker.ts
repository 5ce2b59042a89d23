// Parses big config files off the daemon's main thread: 10,000 real servers are
// 0.3 s of YAML natively (seconds on a slow CPU), and the VRRP timers on the main
// thread must not wait for them — with advert_int 0.1 a backup declares the
// master dead after ~0.35 s of silence. One request at a time, in order.

import { parentPort } from 'node:worker_threads';
import { parseAndCheck } from './parse.js';
import { ConfigError } from './reader.js';
import type { ScriptRef } from './scripts.js';

export type ParseReply = { ok: true; cfg: unknown; scripts: ScriptRef[] } | { ok: false; issues: ConfigError['issues'] } | { ok: false; message: string };

parentPort!.on('message', ({ text, file }: { text: string; file: string }) => {
  let reply: ParseReply;
  try {
    reply = { ok: true, ...parseAndCheck(text, file) };
  } catch (err) {
    reply = err instanceof ConfigError ? { ok: false, issues: err.issues } : { ok: false, message: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
