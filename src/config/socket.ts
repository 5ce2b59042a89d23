// Where the CLI finds the daemon: global.control_socket, read from the config
// file's `global:` section alone. `vipd status` must not parse and validate
// 15,000 lines of virtual servers to learn one path (0.4 s natively, seconds on a
// slow CPU), and a reload of a file with a mistake elsewhere must still reach the
// daemon — which then rejects the file with every problem listed.

import { parse } from 'yaml';
import { readConfigFile } from './read.js';

export const DEFAULT_CONTROL_SOCKET = '/run/vipd/vipd.sock';

/**
 * The control socket `file` names; the default when it names none (or cannot be
 * read, or is no regular file: the daemon may still be running with the default); undefined for the rare
 * layout the section scan cannot read (a quoted top-level key, a flow-style file):
 * the caller then loads the whole file.
 */
export function controlSocketOf(file: string): string | undefined {
  let text: string;
  try {
    text = readConfigFile(file); // a regular file under the size limit: never a hang on a FIFO
  } catch {
    return DEFAULT_CONTROL_SOCKET;
  }
  if (!text.includes('control_socket')) return DEFAULT_CONTROL_SOCKET;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^global\s*:/.test(l));
  if (start >= 0) {
    let end = start + 1;
    while (end < lines.length && /^(\s|#|$)/.test(lines[end]!)) end++;
    try {
      const g = (parse(lines.slice(start, end).join('\n')) as { global?: { control_socket?: unknown } } | null)?.global;
      const v = g?.control_socket;
      if (typeof v === 'string' && v.startsWith('/')) return v;
      if (g && v === undefined) return DEFAULT_CONTROL_SOCKET;
    } catch {
      // not readable this way: the full parse decides
    }
  }
  return undefined;
}
