// track_file at run time (keepalived's vrrp_track_file): the number in each
// tracked file, re-read whenever the file changes. The directory is watched
// (inotify, through fs.watch), so a file created, replaced by a rename, written
// or deleted is noticed at once; a missing file reads 0, as in keepalived.
// Reads wait DEBOUNCE_MS after the last event: a shell's `echo 5 > f` truncates
// before it writes, and the empty file in between must not count as 0.
// init_file writes its value when a tracker starts (if the file is missing, or
// always with overwrite). vrrp/track.ts turns the values into priority and FAULT.

import { type FSWatcher, readFileSync, watch, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Config, TrackFileConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { type FileStatus, type Tracked, trackFileValue } from '../vrrp/track.js';
import { coalesce, refsOf, trackedBy, type TrackSource, usedNames } from './track-source.js';

const DEBOUNCE_MS = 20;

interface Watched {
  def: TrackFileConfig;
  identity: string;
  value: number;
  error?: string;
  watcher?: FSWatcher;
  timer?: NodeJS.Timeout;
  reading: boolean;
  again: boolean;
}

/** The file's text, undefined when it does not exist; throws on any other failure. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class FileTracking implements TrackSource {
  private cfg: Config | undefined;
  private files = new Map<string, Watched>();
  private readonly changed: () => void;

  constructor(
    private readonly log: Logger,
    onChange: () => void,
  ) {
    this.changed = coalesce(onChange);
  }

  set(cfg: Config): void {
    this.cfg = cfg;
    const used = usedNames(cfg, 'trackFiles');
    const wanted = new Map(cfg.trackFiles.filter((d) => used.has(d.name)).map((d) => [d.name, d]));
    for (const [name, w] of this.files) {
      const d = wanted.get(name);
      if (!d || JSON.stringify([d.file, d.init]) !== w.identity) this.drop(name);
      else w.def = d;
    }
    for (const d of wanted.values()) if (!this.files.has(d.name)) this.start(d);
  }

  private start(def: TrackFileConfig): void {
    const w: Watched = { def, identity: JSON.stringify([def.file, def.init]), value: 0, reading: false, again: false };
    this.files.set(def.name, w);
    if (def.init) this.initFile(def);
    try {
      // The directory, not the file: a file that does not exist yet, or is replaced by a rename, is still seen.
      w.watcher = watch(dirname(def.file), { persistent: false }, (_event, name) => {
        if (name === null || name === basename(def.file)) this.schedule(w);
      });
      w.watcher.on('error', (err) => this.log.error({ event: 'track-file-error', file: def.file, err: err.message }, `track_file ${def.name}: watching ${dirname(def.file)} failed: ${err.message}`));
    } catch (err) {
      this.log.error(
        { event: 'track-file-error', file: def.file, err: (err as Error).message },
        `track_file ${def.name}: cannot watch ${dirname(def.file)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): the value stays 0 until a reload finds the directory; create it, or fix the path`,
      );
    }
    try {
      this.apply(w, readText(def.file), true);
    } catch (err) {
      this.failed(w, err as Error);
    }
  }

  private initFile(def: TrackFileConfig): void {
    const init = def.init!;
    try {
      writeFileSync(def.file, `${init.value}\n`, { flag: init.overwrite ? 'w' : 'wx', mode: 0o644 });
      this.log.info({ event: 'track-file-init', file: def.file, value: init.value }, `track_file ${def.name}: wrote ${init.value} to ${def.file} (init_file)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return; // init_file without overwrite leaves an existing file alone
      this.log.error({ event: 'track-file-error', file: def.file, err: (err as Error).message }, `track_file ${def.name}: init_file could not write ${def.file}: ${(err as Error).message}`);
    }
  }

  private schedule(w: Watched): void {
    clearTimeout(w.timer);
    w.timer = setTimeout(() => void this.read(w), DEBOUNCE_MS);
  }

  private async read(w: Watched): Promise<void> {
    if (w.reading) {
      w.again = true;
      return;
    }
    w.reading = true;
    try {
      let text: string | undefined;
      try {
        text = await readFile(w.def.file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (this.files.get(w.def.name) === w) this.apply(w, text, false);
    } catch (err) {
      if (this.files.get(w.def.name) === w) this.failed(w, err as Error);
    } finally {
      w.reading = false;
      if (w.again) {
        w.again = false;
        void this.read(w);
      }
    }
  }

  private apply(w: Watched, text: string | undefined, first: boolean): void {
    const v = trackFileValue(text);
    delete w.error;
    if (v === undefined) {
      this.log.warn({ event: 'track-file-range', file: w.def.file }, `track_file ${w.def.name}: ${w.def.file} holds a number outside -2147483648..2147483648; keeping ${w.value}`);
      return;
    }
    if (v === w.value && !first) return;
    const was = w.value;
    w.value = v;
    this.log.info(
      { event: 'track-file', file: w.def.file, name: w.def.name, value: v, ...(first ? {} : { was }) },
      `track_file ${w.def.name} (${w.def.file}) is ${v}${text === undefined ? ' (no file)' : ''}${first ? '' : ` (was ${was})`}`,
    );
    if (!first) this.changed();
  }

  private failed(w: Watched, err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    if (w.error !== code) this.log.error({ event: 'track-file-error', file: w.def.file, err: err.message }, `track_file ${w.def.name}: cannot read ${w.def.file}: ${err.message}; counting it as 0`);
    w.error = code;
    if (w.value !== 0) {
      w.value = 0;
      this.changed();
    }
  }

  private drop(name: string): void {
    const w = this.files.get(name);
    if (!w) return;
    clearTimeout(w.timer);
    w.watcher?.close();
    this.files.delete(name);
  }

  tracked(instance: string): Tracked[] {
    return refsOf(this.cfg, 'trackFiles', instance).map((r) => ({ what: `track_file ${r.name}`, weight: r.weight, reverse: r.reverse, up: true, value: this.files.get(r.name)?.value ?? 0 }));
  }

  status(): FileStatus[] {
    const c = this.cfg;
    if (!c) return [];
    return [...this.files.values()].map((w) => ({ name: w.def.name, file: w.def.file, value: w.value, ...(w.error ? { error: w.error } : {}), trackedBy: trackedBy(c, 'trackFiles', w.def.name) }));
  }

  stop(): void {
    for (const name of [...this.files.keys()]) this.drop(name);
  }
}
