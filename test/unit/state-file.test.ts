import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureOwnDir, readState, stateFilePath, writeState } from '../../src/state-file.js';

describe('state files', () => {
  it('are named after the control socket, so two instances in one directory never share one', () => {
    expect(stateFilePath('/run/vipd/vipd.sock', 'admin-state')).toBe('/run/vipd/vipd-admin-state.json');
    expect(stateFilePath('/run/t/lb1.sock', 'ipvs-owned')).not.toBe(stateFilePath('/run/t/lb2.sock', 'ipvs-owned'));
  });

  it('round-trip atomically, leave no temp file, and read as undefined when absent or broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-state-'));
    try {
      const p = join(dir, 'x.json');
      expect(readState(p)).toBeUndefined();
      writeState(p, { owned: ['a', 'b'] });
      expect(readState(p)).toEqual({ owned: ['a', 'b'] });
      expect(readdirSync(dir)).toEqual(['x.json']); // no temp file left
      writeFileSync(join(dir, 'broken.json'), '{"owned": [');
      expect(readState(join(dir, 'broken.json'))).toBeUndefined();
      writeState(join(dir, 'new-dir', 'y.json'), {}); // a missing directory is created, 0700
      expect(statSync(join(dir, 'new-dir')).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never follow a symlink: one at the state path is replaced, not written through, and not read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-state-'));
    try {
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'precious');
      symlinkSync(victim, join(dir, 'x.json'));
      expect(readState(join(dir, 'x.json'))).toBeUndefined();
      writeState(join(dir, 'x.json'), { owned: [] });
      expect(readFileSync(victim, 'utf8')).toBe('precious');
      expect(readState(join(dir, 'x.json'))).toEqual({ owned: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('live only in a directory of our own: a symlink, a file, mode 0755 or another owner is refused with the fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-state-'));
    try {
      const open = join(dir, 'open');
      mkdirSync(open, { mode: 0o755 });
      chmodSync(open, 0o755);
      const uid = process.getuid!();
      expect(() => writeState(join(open, 'x.json'), {})).toThrow(
        `${open} has mode 0755, not 0700; the directory of global.control_socket and the state files must be vipd's own: remove it and let vipd create it, or run 'chown ${uid} ${open} && chmod 0700 ${open}', or choose another global.control_socket`,
      );
      expect(readdirSync(open)).toEqual([]);
      symlinkSync(dir, join(dir, 'link'));
      expect(() => ensureOwnDir(join(dir, 'link'))).toThrow(new RegExp(`^${join(dir, 'link')} is a symlink; `));
      writeFileSync(join(dir, 'file'), '');
      expect(() => ensureOwnDir(join(dir, 'file'))).toThrow(/is not a directory; /);
      expect(() => ensureOwnDir(dir)).not.toThrow();
      if (uid === 0) {
        chmodSync(open, 0o700);
        ensureOwnDir(open);
        chownSync(open, 65534, 0);
        expect(() => ensureOwnDir(open)).toThrow(`${open} is owned by uid 65534, not ours (0); `);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
