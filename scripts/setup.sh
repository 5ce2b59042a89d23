#!/usr/bin/env bash
# Installs what vipd's tests and demo need on a fresh Debian/Ubuntu machine
# (idempotent, quick when everything is already there), then builds vipd.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "vipd setup: run as root (network namespaces, raw sockets and apt need it): log in as root, or sudo bash $0" >&2
  exit 2
fi

# Debian packages the tests need: iproute2 (ip, bridge), ping, arping, tcpdump,
# keepalived (the interop peer and the benchmark's reference), a compiler for the
# addon, and for the IPVS tier: QEMU, Debian's generic kernel (it has IPVS and
# 9p as modules), busybox-static (the guest's init) and ipvsadm (the reference view);
# for the systemd tier: systemd and udev (the gateways boot this host's systemd as PID 1),
# man-db (the package's man page is read there), procps (ps -L there) and binutils
# (strip, for the package); prometheus (the metrics tests scrape vipd with a real one and
# query it with PromQL; its promtool parses the Grafana dashboard's expressions);
# nftables (no_accept's drop rules: the nft command, tested in the netns tier); bird2 (the
# ECMP tier's routing daemon: BGP + BFD between the directors and a router, in namespaces
# and in the QEMU guest).
need=(iproute2 iputils-ping arping tcpdump keepalived python3 make g++
      qemu-system-x86 linux-image-amd64 busybox-static ipvsadm
      systemd udev man-db binutils procps prometheus nftables bird2)
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "vipd setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's keepalived package may start a system instance; our tests run their own in namespaces.
if command -v systemctl >/dev/null && systemctl is-active --quiet keepalived 2>/dev/null; then
  systemctl stop keepalived || true
fi
# The same for the prometheus package's system service: the tests start their own, in a namespace.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
  systemctl disable prometheus 2>/dev/null || true
fi
# And for bird2's: the tests run their own BIRDs, each in a namespace with its own config and socket.
if command -v systemctl >/dev/null && systemctl is-active --quiet bird 2>/dev/null; then
  systemctl stop bird || true
  systemctl disable bird 2>/dev/null || true
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "vipd setup: Node.js 20 or newer is required (found: $(node -v 2>/dev/null || echo none))" >&2
  exit 2
fi

# npm ci compiles the native addon (node-gyp) and the TypeScript (prepare).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run -s install >/dev/null && npm run -s build
fi
