// Loads /etc/vipd/vipd.yaml: reads the file (read.ts: a regular file of bounded
// size), parses it (parse.ts) — on reload a big file in the parser thread, so
// the VRRP adverts on the main thread keep their time — and keeps the last
// result, so a reload of an unchanged file costs no parse.

import { Worker } from 'node:worker_threads';
import { resolve } from 'node:path';
import type { ParseReply } from './parse-worker.js';
import { parseAndCheck } from './parse.js';
import { ConfigReadError, readConfigFile } from './read.js';
import { ConfigError } from './reader.js';
import { checkScripts, type ScriptRef } from './scripts.js';
import type { Config } from './types.js';

export { ConfigError } from './reader.js';

export const DEFAULT_CONFIG_FILE = '/etc/vipd/vipd.yaml';

/** The last file parsed and its result: a reload of an unchanged file costs no parse (11,000 lines of YAML take 0.3 s natively). */
let lastParsed: { abs: string; text: string; cfg: Config; scripts: ScriptRef[] } | undefined;

/** The file's text: a regular file of at most MAX_CONFIG_BYTES (read.ts), else a ConfigError at 1:1. */
function readConfigText(file: string): { abs: string; text: string } {
  const abs = resolve(file);
  try {
    return { abs, text: readConfigFile(abs) };
  } catch (err) {
    if (!(err instanceof ConfigReadError)) throw err;
    throw new ConfigError([{ file: abs, line: 1, col: 1, path: '', message: err.message }]);
  }
}

/** Reads and validates a config file (validation is pure: the same text gives the same Config, returned as is). */
export function loadConfig(file: string = DEFAULT_CONFIG_FILE): Config {
  const { abs, text } = readConfigText(file);
  return parseCached(abs, text);
}

/** The last parse of the same text, with its scripts checked again (one may have been removed or made writable since). */
function cached(abs: string, text: string): Config | undefined {
  if (lastParsed?.abs !== abs || lastParsed.text !== text) return undefined;
  const issues = checkScripts(lastParsed.scripts, lastParsed.cfg.global.enableScriptSecurity);
  if (issues.length > 0) throw new ConfigError(issues);
  return lastParsed.cfg;
}

function parseCached(abs: string, text: string): Config {
  const hit = cached(abs, text);
  if (hit) return hit;
  const { cfg, scripts } = parseAndCheck(text, abs);
  lastParsed = { abs, text, cfg, scripts };
  return cfg;
}

/** Files larger than this are parsed in the parser thread on reload (~2,000 lines: some 40 ms of YAML natively). */
export const OFF_THREAD_BYTES = 64 * 1024;

/**
 * The parser thread (parse-worker.ts): started for a reload of a big file and ended
 * once it has answered (a thread and its heap hold ~15 MB of RSS; kept between
 * reloads, they were that much of an idle daemon's memory). A big reload pays for
 * starting the thread and loading the YAML library into it (~50 ms natively),
 * off the main thread: the adverts do not wait for it.
 */
class ParserThread {
  private worker: Worker | undefined;
  private readonly waiting: ((r: ParseReply | Error) => void)[] = [];

  parse(text: string, file: string): Promise<ParseReply> {
    const w = (this.worker ??= this.spawn());
    return new Promise((resolveReply, reject) => {
      this.waiting.push((r) => (r instanceof Error ? reject(r) : resolveReply(r)));
      w.postMessage({ text, file });
    });
  }

  private spawn(): Worker {
    // stdout/stderr: true, as for the checker thread: fd 1 must stay blocking for the logger.
    const w = new Worker(new URL('./parse-worker.js', import.meta.url), { stdout: true, stderr: true });
    w.unref();
    w.stdout.resume();
    w.stderr.resume();
    const done = () => {
      if (this.waiting.length) return;
      if (this.worker === w) this.worker = undefined;
      void w.terminate();
    };
    w.on('message', (m: ParseReply) => {
      this.waiting.shift()?.(m);
      done();
    });
    const fail = (err: Error) => {
      if (this.worker === w) this.worker = undefined;
      for (const f of this.waiting.splice(0)) f(err);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the config parser thread exited (${code}) without an answer`)));
    return w;
  }
}

const parserThread = new ParserThread();

/**
 * What a running daemon loads on reload: loadConfig(), with a big file parsed in the
 * parser thread so it never holds the event loop — and the VRRP adverts on it. The
 * file is read here, so the thread parses exactly this text.
 */
export async function loadConfigOffThread(file: string = DEFAULT_CONFIG_FILE): Promise<Config> {
  const { abs, text } = readConfigText(file);
  if ((lastParsed?.abs === abs && lastParsed.text === text) || text.length <= OFF_THREAD_BYTES) return parseCached(abs, text);
  const reply = await parserThread.parse(text, abs);
  if (!reply.ok) throw 'issues' in reply ? new ConfigError(reply.issues) : new Error(reply.message);
  const cfg = reply.cfg as Config;
  lastParsed = { abs, text, cfg, scripts: reply.scripts };
  return cfg;
}