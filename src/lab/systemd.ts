// Gateway hosts for the systemd tier: Debian's kernel under QEMU booting systemd as
// PID 1 on this host's root filesystem (read-only over 9p, under a tmpfs overlay, so
// `apt install`, /etc edits and the journal stay in the guest). Each guest has a NIC
// on a tap device in a network namespace of the caller's (attach it to a bridge
// there), and a command channel: a virtio-serial port served by a small shell agent
// that systemd starts (vt-agent.service) — the harness types commands as an operator
// would at a root shell and gets their output and exit code.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs, findKernel } from './qemu.js';

// /init: the host root read-only, a tmpfs over it, the guest's own preparation
// (prepare.sh on the share, run in the new root), then systemd.
const INIT = `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /lower /rw /newroot
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
for m in $($B cat /modules/order); do $B insmod /modules/$m || echo "insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower || { echo "cannot mount the host root"; $B poweroff -f; }
$B mount -t tmpfs -o mode=0755 tmpfs /rw
$B mkdir -p /rw/upper /rw/work
$B mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || { echo "overlay failed"; $B poweroff -f; }
$B mkdir -p /newroot/mnt/share
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /newroot/mnt/share || { echo "cannot mount the share"; $B poweroff -f; }
$B chroot /newroot /bin/sh /mnt/share/prepare.sh || echo "prepare.sh failed"
$B umount /proc /dev
exec $B switch_root /newroot /lib/systemd/systemd
`;
const MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay', 'virtio_net', 'virtio_console'];

// The agent: "ID base64(command)" a line in, "ID rc base64(output)" a line out, as root
// in a login-like environment (an answer that comes after the harness gave up on it is
// recognised by its ID and dropped). Re-opens the port when the host side is not connected.
const AGENT = `#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 LANG=C.UTF-8
cd /root
while :; do
  exec 3<>/dev/virtio-ports/vt.ctl
  while IFS= read -r line <&3; do
    id=\${line%% *}
    cmd=$(printf %s "\${line#* }" | base64 -d)
    out=$(sh -c "$cmd" 2>&1 </dev/null); rc=$?
    printf '%s %s %s\\n' "$id" "$rc" "$(printf %s "$out" | base64 -w0)" >&3
  done
  exec 3>&-
  sleep 0.2
done
`;

/** Runs in the guest's root before systemd starts: identity, network, agent, a quiet boot. */
function prepareScript(name: string, mac: string, cidr: string, gateway: string | undefined): string {
  const machineId = Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
  return `#!/bin/sh
set -e
echo ${name} > /etc/hostname
printf '127.0.0.1 localhost\\n127.0.1.1 ${name}\\n' > /etc/hosts
echo ${machineId} > /etc/machine-id
S=/etc/systemd/system
# What this host's image enables (databases, timers, keepalived, LSB scripts) does not
# run on a gateway under test: masked. systemd's own units and our two stay.
for f in $S/*.wants/*; do [ -e "$f" ] || continue; ln -sf /dev/null "$S/$(basename "$f")"; done
for f in /etc/init.d/*; do n=$(basename "$f"); [ -e /lib/systemd/system/$n.service ] || ln -sf /dev/null "$S/$n.service"; done
for u in getty@tty1 serial-getty@ttyS0 console-getty systemd-timesyncd apt-daily apt-daily-upgrade man-db; do ln -sf /dev/null "$S/$u.service"; done
for u in apt-daily apt-daily-upgrade man-db dpkg-db-backup e2scrub_all fstrim logrotate; do ln -sf /dev/null "$S/$u.timer"; done
rm -f $S/*.wants/*
# dpkg's man-db trigger re-scans every manual page (minutes over 9p on an emulated CPU);
# man still finds a new page without the index.
rm -f /var/lib/man-db/auto-update
cp /mnt/share/vt-agent /usr/local/sbin/vt-agent
chmod 755 /usr/local/sbin/vt-agent
cat > $S/vt-agent.service <<'EOF'
[Unit]
Description=test harness agent (virtio-serial vt.ctl)
DefaultDependencies=no
After=dev-virtio\\x2dports-vt.ctl.device
Wants=dev-virtio\\x2dports-vt.ctl.device
[Service]
ExecStart=/usr/local/sbin/vt-agent
Restart=always
RestartSec=200ms
[Install]
WantedBy=multi-user.target
EOF
# The NIC is eth0, as on the gateways the README's examples describe.
mkdir -p /etc/systemd/network
printf '[Match]\\nMACAddress=${mac}\\n[Link]\\nName=eth0\\n' > /etc/systemd/network/10-vt-eth0.link
# The gateway's LAN address, as ifupdown or networkd would set it, before network-online.target.
cat > $S/vt-net.service <<'EOF'
[Unit]
Description=test harness network (eth0 ${cidr})
DefaultDependencies=no
After=sys-subsystem-net-devices-eth0.device
Wants=sys-subsystem-net-devices-eth0.device
Before=network-online.target network.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip link set lo up
ExecStart=/sbin/ip link set eth0 up
ExecStart=/sbin/ip addr add ${cidr} dev eth0
${gateway ? `ExecStart=/sbin/ip route add default via ${gateway}` : ''}
[Install]
WantedBy=network-online.target multi-user.target
EOF
mkdir -p $S/multi-user.target.wants $S/network-online.target.wants
ln -sf $S/vt-agent.service $S/multi-user.target.wants/vt-agent.service
ln -sf $S/vt-net.service $S/network-online.target.wants/vt-net.service
ln -sf $S/vt-net.service $S/multi-user.target.wants/vt-net.service
`;
}

export interface SystemdGuestOptions {
  name: string;
  /** Network namespace QEMU runs in: its tap device appears there, named `tap`. */
  netns: string;
  tap: string;
  mac: string;
  /** The guest's eth0 address with prefix. */
  cidr: string;
  gateway?: string;
  memMb?: number;
}

export interface ShResult {
  rc: number;
  out: string;
}

export class SystemdGuest {
  readonly share: string;
  private qemu: ChildProcess | undefined;
  private conn: Socket | undefined;
  private buffered = '';
  private waiting: { id: number; resolve: (rest: string) => void } | undefined;
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly sock: string;

  constructor(readonly opts: SystemdGuestOptions) {
    this.share = mkdtempSync(join(tmpdir(), `vt-sd-${opts.name}-`));
    this.sock = join(this.share, '.ctl.sock');
  }

  /** The guest console so far (kernel and systemd messages): for failure reports. */
  get console(): string {
    const f = join(this.share, '.console');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  /** Puts a file on the share (the guest sees it at /mnt/share/NAME). */
  put(name: string, content: string | Buffer): string {
    writeFileSync(join(this.share, name), content);
    return `/mnt/share/${name}`;
  }

  /** Boots the guest and waits until its agent answers (systemd reached it). */
  async boot(timeoutMs = 240_000): Promise<number> {
    const t0 = Date.now();
    const kernel = findKernel();
    const initrd = buildInitramfs(kernel, INIT, MODULES);
    this.put('vt-agent', AGENT);
    this.put('prepare.sh', prepareScript(this.opts.name, this.opts.mac, this.opts.cidr, this.opts.gateway));
    const accel = process.env.VIPD_QEMU_ACCEL === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg'];
    const args = [
      ...accel,
      '-m', String(this.opts.memMb ?? 1024),
      '-smp', '1',
      '-kernel', kernel.vmlinuz,
      '-initrd', initrd,
      '-append', 'console=ttyS0 panic=-1 net.ifnames=0 systemd.unit=multi-user.target systemd.show_status=0 quiet',
      '-nographic', '-no-reboot', '-nodefaults',
      '-serial', `file:${join(this.share, '.console')}`,
      '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      '-virtfs', `local,path=${this.share},mount_tag=share,security_model=none`,
      '-netdev', `tap,id=n0,ifname=${this.opts.tap},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=n0,mac=${this.opts.mac}`,
      '-device', 'virtio-serial',
      '-chardev', `socket,path=${this.sock},server=on,wait=off,id=ctl`,
      '-device', 'virtserialport,chardev=ctl,name=vt.ctl',
    ];
    this.qemu = spawn('ip', ['netns', 'exec', this.opts.netns, 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let qemuErr = '';
    this.qemu.stderr!.on('data', (d: Buffer) => (qemuErr += d.toString()));
    // The control socket appears once QEMU is up; connect at once and stay connected.
    while (!existsSync(this.sock)) {
      if (this.qemu.exitCode !== null) throw new Error(`qemu exited: ${qemuErr}`);
      if (Date.now() - t0 > 30_000) throw new Error(`qemu did not start: ${qemuErr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise<void>((resolve, reject) => {
      this.conn = createConnection(this.sock, resolve).once('error', reject);
    });
    this.conn!.on('data', (d: Buffer) => {
      this.buffered += d.toString();
      let nl;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const sp = line.indexOf(' ');
        const w = this.waiting;
        if (!w || Number(line.slice(0, sp)) !== w.id) continue; // a late answer: dropped
        this.waiting = undefined;
        w.resolve(line.slice(sp + 1));
      }
    });
    // The agent starts with multi-user.target; ask until it answers.
    for (;;) {
      const r = await this.sh('true', 5_000).catch(() => undefined);
      if (r?.rc === 0) break;
      if (this.qemu.exitCode !== null || Date.now() - t0 > timeoutMs) {
        throw new Error(`guest ${this.opts.name} did not come up in ${timeoutMs} ms; console:\n${this.console.slice(-3000)}`);
      }
    }
    // Then until the boot is finished (every start-up job done), as an operator logging in would find it.
    const state = await this.sh('systemctl is-system-running --wait', Math.max(10_000, timeoutMs - (Date.now() - t0)));
    if (!/running|degraded/.test(state.out)) throw new Error(`guest ${this.opts.name}: systemd is ${state.out.trim()}`);
    return Date.now() - t0;
  }

  /** Runs a shell command as root in the guest; one at a time (queued). Trailing newlines are cut, as by $(...). */
  sh(cmd: string, timeoutMs = 120_000): Promise<ShResult> {
    const run = async (): Promise<ShResult> => {
      if (!this.conn) throw new Error('guest not booted');
      const line = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => {
          this.waiting = undefined;
          reject(new Error(`guest ${this.opts.name}: no answer within ${timeoutMs} ms to: ${cmd}`));
        }, timeoutMs);
        const id = this.nextId++;
        this.waiting = {
          id,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        this.conn!.write(`${id} ${Buffer.from(cmd).toString('base64')}\n`);
      });
      const sp = line.indexOf(' ');
      return { rc: Number(line.slice(0, sp)), out: Buffer.from(line.slice(sp + 1), 'base64').toString() };
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Like sh(), but a non-zero exit is an error carrying the output. */
  async ok(cmd: string, timeoutMs?: number): Promise<string> {
    const r = await this.sh(cmd, timeoutMs);
    if (r.rc !== 0) throw new Error(`guest ${this.opts.name}: \`${cmd}\` exited ${r.rc}:\n${r.out}`);
    return r.out;
  }

  /** Powers the guest off at once (the QEMU process is killed: a power cut). */
  kill(): void {
    this.conn?.destroy();
    try {
      if (this.qemu?.pid) process.kill(-this.qemu.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  destroy(): void {
    this.kill();
    rmSync(this.share, { recursive: true, force: true });
  }
}
