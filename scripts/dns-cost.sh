#!/usr/bin/env bash
# The cost of remote_name's DNS snooping (docs/performance.md), as root,
# under the kernel-test lock if the machine is shared:
#   1. 100,000 answers at 10,000 a second in a namespace of their own:
#      tcptop_dns's run time per run (bpf_stats) and tcptop's CPU time;
#   2. 200 MB of TCP over loopback: the program's cost on a packet that is
#      not DNS (its early exit).
# The traffic comes from the testnet roles of the source test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
T=$dir/source.test
go test -c -o "$T" ./internal/source
make -s build
sysctl -q kernel.bpf_stats_enabled=1
trap 'sysctl -q kernel.bpf_stats_enabled=0; ip netns del tt-cost 2>/dev/null || true; rm -rf "$dir"' EXIT
ip netns add tt-cost
ip -n tt-cost link set lo up
bin/tcptop -o ndjson -i 1s >/dev/null 2>"$dir/err" &
TP=$!
sleep 3
cpu() { awk '{print $14+$15}' /proc/$TP/stat; }
# tcptop's only cgroup_skb program (prog_type 8) is tcptop_dns.
prog() {
	for f in /proc/$TP/fdinfo/*; do
		if grep -q "^prog_type:\s8$" "$f" 2>/dev/null; then
			awk '/^run_cnt/{c=$2} /^run_time_ns/{t=$2} END{print c, t}' "$f"
			return
		fi
	done
}
ip netns exec tt-cost env TCPTOP_TESTNET_ROLE=dns-server "$T" 127.0.0.1:53 300 >/dev/null &
SP=$!
sleep 1
c0=$(cpu); sleep 10; c1=$(cpu)
read -r n0 t0 < <(prog)
start=$(date +%s.%N); c2=$(cpu)
ip netns exec tt-cost env TCPTOP_TESTNET_ROLE=dns-flood "$T" 127.0.0.1:53 100000 10000 </dev/null >/dev/null
end=$(date +%s.%N); c3=$(cpu)
read -r n1 t1 < <(prog)
kill $SP
exec 3< <(env TCPTOP_TESTNET_ROLE=tcp-server "$T" 127.0.0.1:0 200000000 1)
read -r _ port <&3
env TCPTOP_TESTNET_ROLE=tcp-client "$T" "127.0.0.1:$port" 200000000 1 </dev/null >/dev/null
read -r n2 t2 < <(prog)
kill -INT $TP
wait $TP || true
hz=$(getconf CLK_TCK)
echo "idle 10 s: tcptop CPU $((c1 - c0))/$hz s"
echo "flood: 100000 answers in $(echo "$end - $start" | bc) s; tcptop CPU $((c3 - c2))/$hz s"
echo "tcptop_dns under the flood: $((n1 - n0)) runs, $(((t1 - t0) / (n1 - n0))) ns per run"
echo "tcptop_dns on 200 MB of TCP: $((n2 - n1)) runs, $(((t2 - t1) / (n2 - n1))) ns per run"
