import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readState, stateFilePath, writeState } from '../../src/state-file.js';

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
      expect(() => writeState(join(dir, 'no-such-dir', 'y.json'), {})).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
