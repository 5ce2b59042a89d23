#!/usr/bin/env bash
# vipd demo: the whole job on one machine, in network namespaces. Two directors
# (lb1 priority 150, lb2 priority 100) share VIP 10.99.0.100 by VRRP and balance
# HTTP to two workers by IPVS direct routing, with an HTTP health monitor; a
# client asks the VIP. Shows the election, requests alternating, a worker
# stopping (it leaves the pool: `vipd status` says why) and returning, a power
# loss of the master (lb2 takes over with the same health view), its return
# (preemption) and a graceful stop (priority 0 handover).
# IPVS needs a kernel that has it: on a host without (like the CI machines) the
# demo runs itself in the QEMU lab (Debian's kernel, this host's files; ~15 s to
# boot). --host runs it here anyway: VRRP and health, no traffic through the VIP.
# Usage (as root): bash scripts/demo.sh [--host]   (cleans up after itself; namespaces vt-demo-*)
set -euo pipefail
cd "$(dirname "$0")/.."
has_ipvs() { [ -e /proc/net/ip_vs ] || modprobe ip_vs 2>/dev/null; }
if [ -z "${VIPD_DEMO_GUEST:-}" ]; then
  bash scripts/setup.sh
  if ! has_ipvs && [ "${1:-}" != "--host" ]; then
    echo "vipd demo: this kernel has no IPVS; running the demo in the QEMU lab (Debian's kernel $(ls /boot | sed -n 's/^vmlinuz-\(.*-amd64\)$/\1/p' | grep -v cloud | sort | tail -1)), --host to run it here without traffic"
    exec node scripts/in-guest.mjs "VIPD_DEMO_GUEST=1 bash scripts/demo.sh"
  fi
fi
IPVS=no
if has_ipvs; then
  IPVS=yes
  for m in ip_vs_wrr bridge veth; do modprobe $m 2>/dev/null || true; done
fi

P=vt-demo
VIP=10.99.0.100
WORK=$(mktemp -d /tmp/vipd-demo-XXXXXX)
VIPD="$PWD/bin/vipd.js"

cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap 'cleanup; rm -rf "$WORK"' EXIT
cleanup

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

say "building the lab: one switch; lb1 10.99.0.11, lb2 10.99.0.12, client 10.99.0.50, worker1 10.99.0.21, worker2 10.99.0.22"
ip netns add "$P-sw"
in_ns sw ip link add br0 type bridge
in_ns sw ip link set br0 up
i=0
for host in lb1:10.99.0.11 lb2:10.99.0.12 client:10.99.0.50 w1:10.99.0.21 w2:10.99.0.22; do
  name=${host%%:*} ip=${host#*:}
  i=$((i + 1))
  ip netns add "$P-$name"
  in_ns "$name" ip link set lo up
  ip link add "vtd$i" netns "$P-$name" type veth peer name "port$i" netns "$P-sw"
  in_ns "$name" ip link set "vtd$i" name eth0
  in_ns "$name" ip addr add "$ip/24" dev eth0
  in_ns "$name" ip link set eth0 up
  in_ns sw ip link set "port$i" master br0 up
done
# Direct routing: the workers hold the VIP on lo and never answer ARP for it.
for w in w1 w2; do
  in_ns "$w" ip addr add "$VIP/32" dev lo
  in_ns "$w" sh -c 'for d in all eth0; do echo 1 > /proc/sys/net/ipv4/conf/$d/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/$d/arp_announce; done'
done

for lb in lb1:150 lb2:100; do
  name=${lb%%:*} prio=${lb#*:}
  cat >"$WORK/$name.yaml" <<YAML
global:
  router_id: $name
  control_socket: $WORK/$name.sock
vrrp_instances:
  VI_1:
    interface: eth0
    vrid: 51
    priority: $prio
    advert_int: 1
    virtual_ipaddress: [$VIP/32]
virtual_servers:
  web:
    address: $VIP
    port: 80
    scheduler: ROUND_ROBIN
    forwarding: dr
    real_servers:
      - address: 10.99.0.21
      - address: 10.99.0.22
    health_check: {type: HTTP, delay: 1, timeout: 0.8, max_retries: 2, max_retries_down: 2, url_path: /, expected_codes: "200"}
YAML
done

worker() { # n: an HTTP server answering "Hello from worker n"
  setsid -f ip netns exec "$P-w$1" node -e "require('http').createServer((q, r) => r.end('Hello from worker $1\n')).listen(80)"
}
start() { setsid -f ip netns exec "$P-$1" node --no-memory-reducer "$VIPD" run -c "$WORK/$1.yaml" --json >>"$WORK/$1.log" 2>&1; }
status() { in_ns "$1" node "$VIPD" status -s "$WORK/$1.sock" | sed 's/^/    /'; }
json() { in_ns "$1" node "$VIPD" status -s "$WORK/$1.sock" --json 2>/dev/null | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{try{const j=JSON.parse(s);console.log($2)}catch{console.log('DOWN')}})"; }
state() { json "$1" 'j.vrrp.instances[0].state'; }
rs() { json "$1" "j.virtualServers[0].realServers.map(r=>r.address+'='+r.status).join(' ')"; }
wait_for() { # what timeout_s command...: until the command prints "ok"
  local what=$1 limit=$2 t0=$SECONDS; shift 2
  until [ "$("$@")" = ok ]; do
    [ $((SECONDS - t0)) -lt "$limit" ] || { echo "    no $what within $limit s; logs:"; tail -n 5 "$WORK"/lb*.log; exit 1; }
    sleep 0.3
  done
}
is() { [ "$(state "$1")" = "$2" ] && echo ok || true; }
rs_is() { [ "$(rs "$1")" = "$2" ] && echo ok || true; }
requests() { # n: the client asks the VIP n times, a new connection each
  if [ "$IPVS" = no ]; then echo "    (no IPVS in this kernel: no traffic through the VIP)"; return; fi
  in_ns client node -e "
    const http = require('http');
    (async () => { const got = [];
      for (let i = 0; i < $1; i++) got.push(await new Promise((ok) => {
        const q = http.get({ host: '$VIP', path: '/', agent: false, timeout: 2000 }, (r) => { let b = ''; r.on('data', (d) => (b += d)).on('end', () => ok(b.trim())); });
        q.on('timeout', () => q.destroy(new Error('timeout'))).on('error', (e) => ok('FAILED: ' + e.message)); }));
      console.log('    client, $1 requests to http://$VIP/: ' + got.join(' | ')); })();"
}
client_view() {
  in_ns client ping -c1 -W1 "$VIP" >/dev/null && reach=reachable || reach=UNREACHABLE
  mac=$(in_ns client ip neigh show "$VIP" | awk '{print $5}')
  echo "    client: VIP $VIP $reach, its ARP entry says ${mac:-none} (lb1 $(in_ns lb1 cat /sys/class/net/eth0/address), lb2 $(in_ns lb2 cat /sys/class/net/eth0/address))"
}
gap() { # measure the client's outage while "$@" runs: ping every 10 ms
  in_ns client ping -i 0.01 -W 1 -D "$VIP" >"$WORK/ping.log" 2>&1 &
  local pid=$!
  sleep 1
  "$@"
  sleep 6
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  awk -F'[][]' '/bytes from/ { t = $2 + 0; if (p && t - p > g) g = t - p; p = t } END { printf "    client outage: %.3f s (longest gap between replies)\n", g }' "$WORK/ping.log"
}
BOTH="10.99.0.21=ONLINE 10.99.0.22=ONLINE"

say "starting two workers and vipd on lb1 (priority 150) and lb2 (priority 100)"
worker 1
worker 2
start lb1
start lb2
wait_for "lb1 MASTER" 60 is lb1 MASTER
wait_for "lb2 BACKUP" 60 is lb2 BACKUP
wait_for "both workers ONLINE" 60 rs_is lb1 "$BOTH"
status lb1
if [ "$IPVS" = yes ]; then echo "    ipvsadm -Ln on lb1:"; in_ns lb1 ipvsadm -Ln | sed 's/^/      /'; fi
client_view
requests 6

say "worker 2 stops (kill -9): 2 failed checks later it leaves the pool"
ip netns pids "$P-w2" | xargs -r kill -9
wait_for "worker 2 ERROR" 60 rs_is lb1 "10.99.0.21=ONLINE 10.99.0.22=ERROR"
status lb1
echo "    lb1's log line: $(grep -o 'RS 10.99.0.22:80 of [^"]*DOWN[^"]*' "$WORK/lb1.log" | tail -1)"
echo "    lb2 (backup) checks too: $(rs lb2)"
requests 6

say "worker 2 comes back: 2 passing checks later it is in the pool again"
worker 2
wait_for "worker 2 ONLINE" 60 rs_is lb1 "$BOTH"
echo "    lb1's log line: $(grep -o 'RS 10.99.0.22:80 of [^"]*UP[^"]*' "$WORK/lb1.log" | tail -1)"
requests 6

say "power loss of the master (lb1): kill -9 and its cable pulled; lb2 takes over after Master_Down_Interval (3 x 1 s + skew 0.61 s)"
gap bash -c "ip netns pids $P-lb1 | xargs -r kill -9; ip -n $P-sw link set port1 down"
wait_for "lb2 MASTER" 60 is lb2 MASTER
status lb2
client_view
requests 6
in_ns sw ip link set port1 up
in_ns lb1 ip addr del "$VIP/32" dev eth0 2>/dev/null || true  # what a reboot would do

say "lb1 comes back: it outranks lb2 and preempts"
start lb1
wait_for "lb1 MASTER" 60 is lb1 MASTER
wait_for "lb2 BACKUP" 60 is lb2 BACKUP
client_view

say "graceful stop of lb1 (SIGTERM): it sends priority 0, lb2 takes over after its skew time (~0.61 s)"
gap bash -c "ip netns pids $P-lb1 | xargs -r kill -TERM"
wait_for "lb2 MASTER" 60 is lb2 MASTER
client_view
requests 4

say "lb2's transitions and health changes (one log line each, with the reason; JSON for journald/Loki):"
grep -E '"event":"(vrrp-transition|rs-health)"' "$WORK/lb2.log" | sed -e 's/.*"time":"\([^"]*\)".*"msg":"\([^"]*\)".*/    \1  \2/'
echo "    e.g. $(grep '"event":"rs-health"' "$WORK/lb2.log" | tail -1 | cut -c1-220)..."
say "done; cleaning up the namespaces"
