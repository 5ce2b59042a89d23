// The sources and the tests type-check under the strict settings (vitest strips
// types without checking them, so a wrong type in a test would otherwise pass).

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('tsc --noEmit over src and test finds no error', () => {
  let out = '';
  let code = 0;
  try {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.test.json', '--noEmit'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    code = e.status ?? 1;
    out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  expect(out, out).toBe('');
  expect(code).toBe(0);
}, 120_000);
