#!/bin/busybox sh
# /init of the test VM (scripts/vm-test.sh): mount what tcptop needs, run
# the kernel tests with the fallback hook paths, report on the serial
# console, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
insmod /modules/inet_diag.ko
insmod /modules/tcp_diag.ko

echo "kernel $(uname -r)"
export CI=true HOME=/tmp TMPDIR=/tmp TCPTOP_BIN=/tcptop
# This kernel has no sock_*_length tracepoints; fexit and kprobes work.
export TCPTOP_EXPECT_HOOKS=fexit,kprobe

# ss is not in the VM, so the segs-vs-ss test stays on the host.
source_tests='TestTCPExactBytesPIDAndClose|TestUDPUnconnectedServerThreePeers|TestShortLivedConnectionsAllReported|TestPreexistingConnectionIsPartialWithOwner|TestEveryHookPathExact|TestMappedAddressesShownAsIPv4|TestCloseBurstOverflowingRingBufferLosesNothing|TestFullTableCountsAndStillLists'
# jq, mlr, tc and ip netns are host tests too.
cli_tests='TestSignalsDetachEverything|TestClosedStdoutEndsQuietly|TestNDJSONTransferExactAndClosedOnce|TestUDPFlowsPerPeerThenExpire|TestMissingHookPathExitsOneNamingIt|TestUsageErrorsExitTwoAndPrintNothing|TestWithoutPrivilegesSaysHowToFix'

result=PASS
run() { # name binary pattern
	echo "== $1"
	if ! "$2" -test.count=1 -test.v -test.timeout=20m -test.run "^($3)\$" >/tmp/$1.out 2>&1; then
		result=FAIL
	fi
	grep -v '^=== ' /tmp/$1.out
}
run source /source.test "$source_tests"
run cli /cli.test "$cli_tests"
echo "TCPTOP-VM-RESULT $result"
poweroff -f
