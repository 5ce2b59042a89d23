// Reads the config file only if it is a regular file of at most MAX_CONFIG_BYTES:
// `-c /dev/zero` must be an error, not 1.5 GB of memory, and `-c FIFO` an error,
// not a daemon (or a SIGHUP reload) that hangs waiting for a writer.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** 64 MiB: some 4 million lines of YAML, far beyond any real table (160,000 real servers are ~7 MiB). */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

export class ConfigReadError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigReadError';
  }
}

function kind(mode: number): string {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFIFO:
      return 'a FIFO';
    case constants.S_IFCHR:
      return 'a character device';
    case constants.S_IFBLK:
      return 'a block device';
    case constants.S_IFDIR:
      return 'a directory';
    case constants.S_IFSOCK:
      return 'a socket';
    default:
      return 'not a regular file';
  }
}

/**
 * The file's text. Opened non-blocking (a FIFO without a writer would block the open
 * itself), checked with fstat on the opened file (no race with a rename), and read
 * no further than the limit even if the file grows meanwhile.
 * Throws ConfigReadError with a message that names the fix.
 */
export function readConfigFile(path: string, limit = MAX_CONFIG_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const fix = e.code === 'ENOENT' ? 'create it (see etc/vipd/vipd.yaml) or pass -c FILE' : e.code === 'EACCES' ? 'run as root or fix its permissions' : 'pass -c FILE';
    throw new ConfigReadError(e.code ?? 'EIO', `cannot read: ${e.code ?? e.message}; ${fix}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigReadError('ENOTREG', `${kind(st.mode)}, not a regular file; valid: a regular file of at most ${limit / 1024 / 1024} MiB (pass -c FILE)`);
    if (st.size > limit) throw new ConfigReadError('EFBIG', `${st.size} bytes is over the limit of ${limit} bytes (${limit / 1024 / 1024} MiB); valid: a smaller file`);
    // Read to the end, growing the buffer if the file grew since fstat, never past limit + 1 bytes.
    let buf = Buffer.allocUnsafe(Math.min(st.size, limit) + 1);
    let n = 0;
    for (let k; (k = readSync(fd, buf, n, buf.length - n, null)) > 0; ) {
      n += k;
      if (n > limit) throw new ConfigReadError('EFBIG', `the file grew over the limit of ${limit} bytes while being read; valid: a smaller file`);
      if (n === buf.length) {
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, limit + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
    }
    return buf.toString('utf8', 0, n);
  } catch (err) {
    if (err instanceof ConfigReadError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new ConfigReadError(e.code ?? 'EIO', `cannot read: ${e.code ?? e.message}; pass -c FILE`);
  } finally {
    closeSync(fd);
  }
}
