// Runs once before the whole suite: removes namespaces a killed earlier run left
// behind, and compiles src/ so the daemons the tests start run the code under test.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cleanupNamespaces } from '../netns/lab.js';

export default function setup(): () => void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  if (process.getuid?.() === 0) cleanupNamespaces();
  execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  return () => {
    if (process.getuid?.() === 0) cleanupNamespaces();
  };
}
