// Runs once before the whole suite: removes namespaces a killed earlier run left
// behind, compiles src/ so the daemons the tests start run the code under test,
// and the scripts the QEMU guests run (tsconfig.guest.json: test/vm/guest -> dist-test/).

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cleanupNamespaces } from '../netns/lab.js';

export default function setup(): () => void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  if (process.getuid?.() === 0) cleanupNamespaces();
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  for (const project of ['tsconfig.json', 'tsconfig.guest.json']) execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  return () => {
    if (process.getuid?.() === 0) cleanupNamespaces();
  };
}
