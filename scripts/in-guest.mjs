#!/usr/bin/env node
// Runs a shell command in the QEMU lab: Debian's kernel (with IPVS) booted with
// this host's filesystem read-only and this project at its own path. Output
// streams live; the exit code is the command's.
// Usage: node scripts/in-guest.mjs 'command ...'   (after npm run build)
import { rmSync } from 'node:fs';
import { runInGuest } from '../dist/lab/qemu.js';

const cmd = process.argv.slice(2).join(' ');
if (!cmd) {
  console.error("usage: node scripts/in-guest.mjs 'shell command'");
  process.exit(2);
}
const g = await runInGuest(`cd ${JSON.stringify(process.cwd())} && ${cmd}\n`, {
  timeoutMs: Number(process.env.VIPD_GUEST_TIMEOUT_MS ?? 1_800_000),
  live: (s) => process.stdout.write(s),
});
rmSync(g.share, { recursive: true, force: true });
if (g.code === null) console.error(`the guest did not finish:\n${g.console.slice(-3000)}`);
process.exit(g.code ?? 1);
