// Runs once before the whole suite: removes namespaces a killed earlier run left
// behind, compiles src/ so the daemons the tests start run the code under test,
// and the scripts the QEMU guests run (tsconfig.guest.json: test/vm/guest -> dist-test/).
//
// The namespace prefix (VIPD_NS_PREFIX, default vt-) is claimed with a pid file: a run
// that finds the prefix claimed by a live run leaves its namespaces alone (a unit-test
// run beside a full suite must not tear down the suite's labs), and cleans only what a
// dead run left.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cleanupNamespaces, NS_PREFIX } from '../netns/lab.js';

const CLAIM = `/run/vipd-test-ns-${NS_PREFIX.replace(/[^A-Za-z0-9_.-]/g, '_')}.pid`;

/** The pid of a live run holding the prefix, if another one does. */
function claimedBy(): number | undefined {
  try {
    const pid = Number(readFileSync(CLAIM, 'utf8'));
    if (!Number.isInteger(pid) || pid === process.pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined; // no claim, or its run is gone
  }
}

export default function setup(): () => void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  let owner = false;
  if (process.getuid?.() === 0) {
    const other = claimedBy();
    if (other === undefined) {
      writeFileSync(CLAIM, String(process.pid));
      owner = true;
      cleanupNamespaces();
    } else console.warn(`namespaces ${NS_PREFIX}* belong to the run of pid ${other}: left alone (set VIPD_NS_PREFIX to run kernel tests beside it)`);
  }
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  for (const project of ['tsconfig.json', 'tsconfig.guest.json']) execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  return () => {
    if (!owner) return;
    cleanupNamespaces();
    rmSync(CLAIM, { force: true });
  };
}
