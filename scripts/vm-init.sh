#!/bin/busybox sh
# /init of a test VM (scripts/vm-test.sh): mount what tcptop needs, load
# the sock_diag modules, run every test of the source and e2e test
# binaries, print the results on the serial console, power off. The host
# reads the TCPTOP-VM-* lines; it decides pass or fail.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Where systemd mounts it on most hosts: the kprobe path sets its
# kretprobes' instance pool through tracefs.
mount -t tracefs tracefs /sys/kernel/tracing
# And debugfs, also mounted by systemd: tcptop reads the preemption model
# from sched/preempt there (PREEMPT_DYNAMIC kernels such as Debian's 6.1
# and 6.12 say only that in uname -v; without it the send/receive pairs
# stay on, as for an unknown model).
mount -t debugfs debugfs /sys/kernel/debug || echo "TCPTOP-VM-NOTE debugfs could not be mounted: the preemption model is read from uname -v only"
ip link set lo up
# VM_NAME, TCPTOP_EXPECT_HOOKS (the paths this kernel must offer, and no
# others), TCPTOP_EXPECT_REFUSED (the kinds of program it refuses), VM_TEST_TIMEOUT and VM_TEST_RUN (make test-vm RUN=regexp, for
# a developer: the tests to run), written by vm-test.sh.
. /vm.env
export TCPTOP_EXPECT_HOOKS TCPTOP_EXPECT_REFUSED

# The firmware's last line may lack its newline: start a fresh one.
echo
echo "TCPTOP-VM-KERNEL $VM_NAME $(uname -r) $(uname -m)"
# Debian builds inet_diag/tcp_diag as modules and there is no modprobe
# here: /modules/order lists them in dependency order.
for m in $(cat /modules/order); do
	insmod "/modules/$m" || echo "TCPTOP-VM-ERROR insmod $m failed: the sock_diag, veth or nftables tests cannot pass"
done
# nft (Debian's, with its libraries) must reach nf_tables, and the
# modules loaded above must hold what the drop and NAT tests' rules use:
# a named counter on a drop rule, an output NAT chain with dnat. Tried
# here in a table of its own, deleted at once, so that a missing piece is
# named at boot rather than as a test's failure.
if ! out=$(nft list ruleset 2>&1); then
	echo "TCPTOP-VM-ERROR nft list ruleset failed: $out"
elif ! out=$(printf '%s\n' 'add table ip tt_boot' 'add counter ip tt_boot c' \
	'add chain ip tt_boot f { type filter hook output priority 0 ; }' \
	'add rule ip tt_boot f tcp dport 9 counter name c drop' \
	'add chain ip tt_boot nat { type nat hook output priority -100 ; }' \
	'add rule ip tt_boot nat tcp dport 9 dnat to 127.0.0.1:10' \
	'delete table ip tt_boot' | nft -f - 2>&1); then
	echo "TCPTOP-VM-ERROR nft: a counter drop rule or a dnat in an output NAT chain failed: $out"
else
	echo "TCPTOP-VM-NOTE $(nft --version): nft list ruleset works, and a counter drop rule and an output dnat load"
fi

# TCPTOP_VM tells the tests that tools busybox lacks (ss, jq, mlr, tc,
# ip netns, go) are missing on purpose: those tests skip, saying so.
export CI=true TCPTOP_VM=1 HOME=/tmp TMPDIR=/tmp TCPTOP_BIN=/tcptop
# End-to-end tests of what tcptop does with rows once the kernel side
# has given them: ranking, escaping, formats, headers, time formats,
# writers and readers that stall or leave, user lookup, filters, grouping,
# --changed, -p, usage errors, limits computed from the chrono fields.
# Nothing in them depends on the kernel beyond what a source test checks
# in every section here (docs/matrix-e2e-audit.md names the source test
# for each), so they run on the host line only (make test and its matrix
# line), not in each VM: under TCG the first 14 took 127-140 s of each
# VM's e2e run (6.12, 6.12-arm64, 2026-12-07), the next 19 about 75 s,
# most of it in loading tcptop's programs again.
e2e_host_only='^(TestSortAndTopInEveryFormat|TestSortKeepsCommunityIDs|TestHostileNamesEscaped|TestReaderGoneWithNoRows|TestSlowReaderNotedOnce|TestStalledReaderThenSIGTERM|TestHeaderAfterOtherOutput|TestTextStreamIsOneFieldPerColumn|TestTextStreamHeaderWhenIdle|TestFieldsAndTimeFormatEndToEnd|TestLogFormatJSONEndToEnd|TestFloorIntervalToFileJoinsNoTick|TestClosedStdoutEndsQuietly|TestNumericUserWithoutPasswd|TestHelpAndVersionGoToStdout|TestFieldsListsTheSchema|TestNDJSONTransferExactAndClosedOnce|TestLimitReceiverWindow|TestLimitApplication|TestFleetUsageErrors|TestUsageErrorAsJSON|TestDirectionBothEnds|TestGroupByCommExact|TestOlderConnectionInNamespace|TestWhereSynRetrans|TestBadInput|TestUsageErrorsEchoNoControlBytes|TestClosedStdoutIsAnError|TestUDPFlowsPerPeerThenExpire|TestChangedSkipsIdleFlows|TestPIDThatStartsLater|TestListenPortInUse|TestStalledReaderLosesNoClose)$'
# Where every path loads, --hooks X for a missing path cannot be tried,
# and each offered path's run is TestEveryHookPathExact's (source, first
# section): the test runs only where a path is missing (about 24 s).
case "$TCPTOP_EXPECT_HOOKS" in
*tracepoint*fexit*kprobe*) e2e_host_only="${e2e_host_only%)\$}|TestMissingHookPathExitsOneNamingIt)\$" ;;
esac
echo "TCPTOP-VM-NOTE e2e tests of user-space behaviour only, run on the host line and not here: $(echo "$e2e_host_only" | tr -d '^()$' | tr '|' ' ')"
# cpu_ticks prints the guest's busy and total CPU time so far (jiffies).
cpu_ticks() { awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }
# section_begin NAME and section_end NAME RC frame each run of a test
# binary for the host (vm-report.awk). The end says how much of the
# guest's CPU time the section spent idle, waiting on timers rather than
# emulating: the room that more guests per host core could use.
section_begin() {
	echo "TCPTOP-VM-BEGIN $1"
	start=$(date +%s)
	set -- $(cpu_ticks)
	busy0=$1 total0=$2
}
section_end() {
	set -- "$1" "$2" $(cpu_ticks)
	echo "TCPTOP-VM-END $1 rc=$2 seconds=$(($(date +%s) - start)) idle=$((100 - 100 * ($3 - busy0) / ($4 - total0 + 1)))%"
}
# What the guest kernel believes about the emulated CPU: each mitigation
# it turned on costs emulated time.
echo "TCPTOP-VM-NOTE mitigations: $(grep -H . /sys/devices/system/cpu/vulnerabilities/* 2>/dev/null | sed 's|.*/||' | tr '\n' ';')"
for t in source e2e; do
	section_begin "$t"
	skip='^$'
	[ "$t" = e2e ] && skip=$e2e_host_only
	"/$t.test" -test.count=1 -test.v -test.timeout="$VM_TEST_TIMEOUT" -test.run="$VM_TEST_RUN" -test.skip "$skip" 2>&1
	section_end "$t" $?
done
# Source tests that run only in the first run: the two that force each
# path and each refusal themselves, and the DNS answer tests, whose hook
# (cgroup_skb) and cache depend on neither the send/receive path nor the
# map-element iterators (the flood alone took 12-42 s a run under TCG).
once='TestEveryHookPathExact|TestEveryFallbackExact|TestDNS[A-Za-z]*'
# Closes found from released sockets are made by the reads (the
# iterators, or the walkers of the refused run below), the same on every
# send/receive path: not run again for each path. So are a connection's
# bytes settled from its counters as it ends (state and release programs).
# And drops by an nftables rule: one program on the kfree_skb tracepoint
# counts them whichever path is forced, and they are joined to the
# connection (its cookie, or its tuple in the table) and reported by the
# reads (a connection whose only news in a tick is its drops), which the
# refused run below replaces with the walkers.
# The translated tuples (TestXlat) come from ctnetlink at a flow's first
# observation, made by the reads, whatever the send/receive path.
per_reader='TestClosesFoundWhenTheKernelSkipsTheRelease|TestReceivesTheKernelSkippedSettled|TestDropsNetfilter|TestXlat|TestXlatSkipsAnEmptyConntrackTable'
# Tests that are one of TestEveryHookPathExact's checks, alone: that test
# runs each on every offered path, and TestEveryFallbackExact runs the
# first three through the walkers. Run again per path they only loaded
# tcptop's programs once more (36 s of 6.12's kprobe run under TCG).
covered='TestTCPExactBytesPIDAndClose|TestShortLivedConnectionsAllReported|TestUDPUnconnectedServerThreePeers'
handshakes='TestSynRetransmitted|TestSynackRetransmitted'
per_path_skip="^($once|$per_reader|$covered|$handshakes)\$"
walkers_skip="^($once|$covered)\$"
# Every other source test again through each offered path that auto did
# not choose (auto takes the first offered of tracepoint, fexit, kprobe),
# so each lifecycle check runs with exact values on every path.
auto=
for p in tracepoint fexit kprobe; do
	case ",$TCPTOP_EXPECT_HOOKS," in *",$p,"*) ;; *) continue ;; esac
	if [ -z "$auto" ]; then auto=$p; continue; fi
	section_begin "source:$p"
	TCPTOP_TEST_HOOKS=$p /source.test -test.count=1 -test.v -test.timeout="$VM_TEST_TIMEOUT" -test.run="$VM_TEST_RUN" \
		-test.skip "$per_path_skip" 2>&1
	section_end "source:$p" $?
done
# Every source test again with the map-element iterators refused, as
# 6.18.44 refuses them: the walkers that replace them read the hot list
# and the table, with every lifecycle check exact. (TestEveryFallbackExact,
# in the first run, forces each other refusal with its own checks.)
# The walkers need bpf_for_each_map_elem (5.13+): before it, the batch
# copy of the table replaces them, with a named loss that the whole suite
# cannot pass (TestEveryFallbackExact checks it there).
release=$(uname -r)
major=${release%%.*} minor=${release#*.}
minor=${minor%%[!0-9]*}
if [ "$major" -gt 5 ] || { [ "$major" -eq 5 ] && [ "$minor" -ge 13 ]; }; then
	section_begin source:refuse=iter/bpf_map_elem
	TCPTOP_TEST_REFUSE=iter/bpf_map_elem /source.test -test.count=1 -test.v -test.timeout="$VM_TEST_TIMEOUT" -test.run="$VM_TEST_RUN" \
		-test.skip "$walkers_skip" 2>&1
	section_end source:refuse=iter/bpf_map_elem $?
else
	echo "TCPTOP-VM-NOTE no walkers before Linux 5.13 (bpf_for_each_map_elem): refused map-element iterators are replaced by the batch copy here"
fi
echo "TCPTOP-VM-DONE"
poweroff -f
