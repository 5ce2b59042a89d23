// The QEMU lab (used by the IPVS tests, the benchmarks and the demo; not by the daemon).
// Boots Debian's generic kernel under QEMU with this host's root filesystem
// over 9p (read-only) and runs one shell script in it, chrooted into the host
// root: real IPVS for tests on a host kernel that has none. The initramfs is
// built here from installed packages (busybox-static, the kernel's 9p and
// virtio modules); see ../shared/design/vm-recipe.md.

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GuestKernel {
  version: string;
  vmlinuz: string;
  modules: string;
}

/** The newest generic (not cloud) Debian kernel installed under /boot with its modules. */
export function findKernel(): GuestKernel {
  const versions = readdirSync('/boot')
    .filter((f) => /^vmlinuz-.*-amd64$/.test(f) && !f.includes('cloud'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(`/lib/modules/${v}/modules.dep`))
    .sort();
  const version = versions.at(-1);
  if (!version) throw new Error('no generic Debian kernel found: apt-get install linux-image-amd64 (the cloud flavour has no 9p)');
  return { version, vmlinuz: `/boot/vmlinuz-${version}`, modules: `/lib/modules/${version}` };
}

/** Module files to insmod, dependencies first, for the given module names. */
export function moduleLoadOrder(modulesDep: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const [mod, rest] = line.split(':');
    if (!mod) continue;
    deps.set(mod.trim(), (rest ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(path.split('/').pop()!.replace(/\.ko(\.\w+)?$/, ''), path);
  const order: string[] = [];
  const visit = (path: string) => {
    if (order.includes(path)) return;
    for (const d of deps.get(path) ?? []) visit(d);
    order.push(path);
  };
  for (const w of wanted) {
    const p = byName.get(w);
    if (p) visit(p); // absent: built into the kernel
  }
  return order;
}

/** The project's root directory: shared into the guest at the same path (it may live under /tmp, which the guest mounts afresh). */
export const PROJECT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

const INIT = `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /root
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
for m in $($B cat /modules/order); do $B insmod /modules/$m || echo "insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /root || { echo "cannot mount the host root"; $B poweroff -f; }
$B mount -t proc proc /root/proc
$B mount -t sysfs sys /root/sys
$B mount -t devtmpfs dev /root/dev
$B mount -t tmpfs tmpfs /root/run
$B mount -t tmpfs tmpfs /root/tmp
$B mkdir -p /root/tmp/share /root/dev/pts
$B mount -t devpts devpts /root/dev/pts
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /root/tmp/share
$B mkdir -p /root${PROJECT}
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose project /root${PROJECT} || echo "cannot mount the project"
$B chroot /root /bin/sh -c 'cd /tmp/share && PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /bin/sh /tmp/share/run.sh > /tmp/share/out 2>&1; echo $? > /tmp/share/rc'
$B sync
$B poweroff -f
`;

/**
 * Builds an initramfs: busybox, the given /init script, and the named modules with their
 * dependencies, insmod'ed in order by /init. Its name in /tmp is a hash of what it holds,
 * so runs share it (one file per kind of guest and kernel) instead of leaving one each.
 */
export function buildInitramfs(kernel: GuestKernel, init = INIT, modules = ['virtio_pci', '9pnet_virtio', '9p']): string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);
  if (!busybox) throw new Error('busybox not found: apt-get install busybox-static');
  const key = createHash('sha256').update(`${kernel.version}\0${modules.join(',')}\0${init}\0${statSync(busybox).mtimeMs}`).digest('hex').slice(0, 16);
  const out = join(tmpdir(), `vt-initramfs-${key}.cpio.gz`);
  if (existsSync(out)) return out;
  const root = mkdtempSync(join(tmpdir(), 'vt-initramfs-'));
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'modules'));
  copyFileSync(busybox, join(root, 'bin', 'busybox'));
  const order = moduleLoadOrder(readFileSync(join(kernel.modules, 'modules.dep'), 'utf8'), modules);
  const names: string[] = [];
  for (const rel of order) {
    const name = rel.split('/').pop()!;
    copyFileSync(join(kernel.modules, rel), join(root, 'modules', name));
    names.push(name);
  }
  writeFileSync(join(root, 'modules', 'order'), names.join('\n') + '\n');
  writeFileSync(join(root, 'init'), init);
  chmodSync(join(root, 'init'), 0o755);
  // Written aside and renamed: a run killed half-way leaves no truncated image to reuse.
  const partial = `${root}.cpio.gz`;
  execFileSync('/bin/sh', ['-c', `cd "${root}" && find . | "${busybox}" cpio -o -H newc 2>/dev/null | gzip -1 > "${partial}"`]);
  renameSync(partial, out);
  rmSync(root, { recursive: true, force: true });
  return out;
}

export interface GuestResult {
  /** Exit code of the script; null if the guest never reported one (crash, timeout). */
  code: number | null;
  /** The script's stdout and stderr. */
  output: string;
  /** The guest console (kernel messages, init errors). */
  console: string;
  /** The share directory (files the script wrote); removed by the caller. */
  share: string;
  ms: number;
}

/**
 * Runs `script` (sh) in a fresh guest. The working directory is a writable
 * share (also at `share` on the host); the host filesystem is read-only at /.
 */
export async function runInGuest(
  script: string,
  opts: { timeoutMs?: number; memMb?: number; files?: Record<string, string>; live?: (chunk: string) => void } = {},
): Promise<GuestResult> {
  const kernel = findKernel();
  const initrd = buildInitramfs(kernel);
  const share = mkdtempSync(join(tmpdir(), 'vt-guest-'));
  chmodSync(share, 0o777);
  writeFileSync(join(share, 'run.sh'), script);
  for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(share, name), text);
  const t0 = Date.now();
  // VIPD_QEMU_ACCEL=kvm: hardware virtualisation where the machine has a working KVM —
  // the benchmarks then run at native speed. This machine's KVM cannot run the guest
  // (see README, Benchmarks), so the default is software emulation.
  const accel = process.env.VIPD_QEMU_ACCEL === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg'];
  const args = [
    ...accel,
    '-m', String(opts.memMb ?? 2048),
    '-smp', '2',
    '-kernel', kernel.vmlinuz,
    '-initrd', initrd,
    '-append', 'console=ttyS0 panic=-1 quiet',
    '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${share},mount_tag=share,security_model=none`,
    '-virtfs', `local,path=${PROJECT},mount_tag=project,security_model=none,readonly=on,multidevs=remap`,
  ];
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleText = '';
  qemu.stdout.on('data', (d: Buffer) => (consoleText += d.toString()));
  qemu.stderr.on('data', (d: Buffer) => (consoleText += d.toString()));
  // Live output: the script's output file grows on the share while the guest runs.
  const outFile = join(share, 'out');
  let livePos = 0;
  const pump = () => {
    if (!opts.live || !existsSync(outFile)) return;
    const fd = openSync(outFile, 'r');
    try {
      const buf = Buffer.alloc(65536);
      for (let n; (n = readSync(fd, buf, 0, buf.length, livePos)) > 0; livePos += n) opts.live(buf.subarray(0, n).toString());
    } finally {
      closeSync(fd);
    }
  };
  const liveTimer = opts.live ? setInterval(pump, 200) : undefined;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const timedOut = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => {
      qemu.kill('SIGKILL');
      resolve(true);
    }, timeoutMs);
    qemu.once('exit', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
  clearInterval(liveTimer);
  pump();
  const rcFile = join(share, 'rc');
  const code = existsSync(rcFile) ? Number(readFileSync(rcFile, 'utf8').trim()) : null;
  const output = existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
  return {
    code,
    output,
    console: timedOut ? `${consoleText}\n[guest killed after ${timeoutMs} ms]` : consoleText,
    share,
    ms: Date.now() - t0,
  };
}
