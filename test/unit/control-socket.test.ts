import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { controlSocketOf, DEFAULT_CONTROL_SOCKET } from '../../src/config/socket.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-sock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string) => {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, text);
  return f;
};

describe('the CLI finds the control socket from the global section alone', () => {
  it('block and flow style', () => {
    expect(controlSocketOf(file('# lb\nglobal:\n  router_id: lb1\n  # the socket\n  control_socket: /run/a.sock\nvrrp_instances:\n  VI_1: {}\n'))).toBe('/run/a.sock');
    expect(controlSocketOf(file('vrrp_instances: {}\nglobal: {control_socket: /run/b.sock}\n'))).toBe('/run/b.sock');
  });

  it('a mistake elsewhere in the file does not hide it (a reload must reach the daemon to be rejected there)', () => {
    expect(controlSocketOf(file('global:\n  control_socket: /run/c.sock\nvirtual_servers:\n  web: {address: [unclosed\n'))).toBe('/run/c.sock');
  });

  it('the default when the file names none, or cannot be read', () => {
    expect(controlSocketOf(file('global:\n  router_id: lb1\nvrrp_instances: {}\n'))).toBe(DEFAULT_CONTROL_SOCKET);
    expect(controlSocketOf(file('global:\n  router_id: lb1\n# control_socket: /run/commented.sock\n'))).toBe(DEFAULT_CONTROL_SOCKET);
    expect(controlSocketOf(join(dir, 'missing.yaml'))).toBe(DEFAULT_CONTROL_SOCKET);
  });

  it('undefined (the caller parses the whole file) where the scan cannot tell', () => {
    expect(controlSocketOf(file('"global":\n  control_socket: /run/d.sock\n'))).toBeUndefined();
    expect(controlSocketOf(file('{global: {control_socket: /run/e.sock}}\n'))).toBeUndefined();
    expect(controlSocketOf(file('global:\n  control_socket: relative.sock\n'))).toBeUndefined();
  });
});
