#!/usr/bin/env bash
# vipd demo: two directors (lb1 priority 150, lb2 priority 100) and a client on
# one switch, all in network namespaces on this machine. Shows the election,
# a crash of the master (kill -9), its return (preemption) and a graceful stop
# (priority 0 handover), with `vipd status` and the client's view of the VIP.
# Usage: sudo bash scripts/demo.sh        (cleans up after itself; namespaces vt-demo-*)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

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

say "building the lab: switch, lb1 10.99.0.11, lb2 10.99.0.12, client 10.99.0.50"
ip netns add "$P-sw"
in_ns sw ip link add br0 type bridge
in_ns sw ip link set br0 up
i=0
for host in lb1:10.99.0.11 lb2:10.99.0.12 client:10.99.0.50; do
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
    virtual_ipaddress: [$VIP/24]
YAML
done

start() { in_ns "$1" node --no-memory-reducer "$VIPD" run -c "$WORK/$1.yaml" --json >>"$WORK/$1.log" 2>&1 & }
status() { in_ns "$1" node "$VIPD" status -s "$WORK/$1.sock" | sed 's/^/    /'; }
state() { in_ns "$1" node "$VIPD" status -s "$WORK/$1.sock" --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).vrrp.instances[0].state)}catch{console.log("DOWN")}})'; }
wait_state() { # host state timeout_s
  local t0=$SECONDS
  until [ "$(state "$1")" = "$2" ]; do
    [ $((SECONDS - t0)) -lt "$3" ] || { echo "    $1 did not reach $2 within $3 s; its log:"; tail -20 "$WORK/$1.log"; exit 1; }
    sleep 0.2
  done
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

say "starting vipd on lb1 (priority 150) and lb2 (priority 100)"
start lb1
start lb2
wait_state lb1 MASTER 10
wait_state lb2 BACKUP 10
status lb1
client_view

say "power loss of the master (lb1): kill -9 and its cable pulled; lb2 takes over after Master_Down_Interval (3 x 1 s + skew 0.61 s)"
gap bash -c "ip netns pids $P-lb1 | xargs -r kill -9; ip -n $P-sw link set port1 down"
wait_state lb2 MASTER 10
status lb2
client_view
in_ns sw ip link set port1 up
in_ns lb1 ip addr del "$VIP/24" dev eth0 2>/dev/null || true  # what a reboot would do

say "lb1 comes back: it outranks lb2 and preempts"
start lb1
wait_state lb1 MASTER 10
wait_state lb2 BACKUP 10
client_view

say "graceful stop of lb1 (SIGTERM): it sends priority 0, lb2 takes over after its skew time (~0.61 s)"
gap bash -c "ip netns pids $P-lb1 | xargs -r kill -TERM"
wait_state lb2 MASTER 10
status lb2
client_view

say "lb2's transitions (one log line each, with the reason; JSON for journald/Loki):"
grep '"event":"vrrp-transition"' "$WORK/lb2.log" | sed -e 's/.*"time":"\([^"]*\)".*"msg":"\([^"]*\)".*/    \1  \2/'
echo "    e.g. $(grep '"event":"vrrp-transition"' "$WORK/lb2.log" | tail -1 | cut -c1-220)..."
say "done; cleaning up the namespaces"
