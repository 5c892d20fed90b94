package source

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/testnet"
)

// expectedPaths are exactly the hook paths the test machine offers, from
// TCPTOP_EXPECT_HOOKS (comma-separated; .ci/run and scripts/vm-test.sh set
// it from scripts/kernels.conf), so that a path silently appearing or
// vanishing fails the test. Unset, any path may work or not, but one must.
func expectedPaths() []string {
	v := os.Getenv("TCPTOP_EXPECT_HOOKS")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// exactChecks are what every hook path must get exactly right: the bytes,
// pids and close records of a TCP transfer and the per-peer UDP flows of
// an unconnected server socket, over IPv4 and IPv6, and 200 connections
// opened and closed between two ticks, and the handshakes of connections
// whose SYN, or SYN-ACK, was sent again (accepted sockets are where paths
// without bpf_get_socket_cookie depend on sockops). Each is a subtest, so
// `go test -v` lists per path the checks that ran.
var exactChecks = []struct {
	name  string
	check func(*testing.T, *Source)
}{
	{"tcp-127.0.0.1", func(t *testing.T, s *Source) { checkTCPTransfer(t, s, "127.0.0.1") }},
	{"tcp-::1", func(t *testing.T, s *Source) { checkTCPTransfer(t, s, "::1") }},
	{"udp-127.0.0.1", func(t *testing.T, s *Source) { checkUDPPeers(t, s, "127.0.0.1") }},
	{"udp-[::1]", func(t *testing.T, s *Source) { checkUDPPeers(t, s, "[::1]") }},
	{"tcp-200-short-lived", checkShortLived},
	{"tcp-beside-64-blocked-readers", checkBesideBlockedReaders},
	{"tcp-syn-retransmitted", checkSynRetransmitted},
	{"tcp-synack-retransmitted", checkSynackRetransmitted},
}

// checkBesideBlockedReaders checks a TCP transfer while 64 threads of
// another process wait in a blocking recv(), as in a thread-per-connection
// server: each of them is inside inet_recvmsg the whole time.
func checkBesideBlockedReaders(t *testing.T, s *Source) {
	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	blocked := testnet.Start(t, "tt-blocked", "", "tcp-blocked", "127.0.0.1:"+strconv.Itoa(sink.Port), "64")
	defer blocked.Release()
	checkTCPTransfer(t, s, "127.0.0.1")
}

func runExactChecks(t *testing.T, s *Source) {
	for _, c := range exactChecks {
		t.Run(c.name, func(t *testing.T) { c.check(t, s) })
	}
}

// TestEveryHookPathExact forces each send/receive hook path this kernel
// offers and runs the exact checks through it, then does the same with
// auto, which must pick the first path offered. A path the kernel lacks is
// reported, not tested; a path the machine is expected to have must work.
func TestEveryHookPathExact(t *testing.T) {
	requireRoot(t)
	want := expectedPaths()
	var offered []string
	for _, path := range []string{HooksTracepoint, HooksFexit, HooksKprobe} {
		s, err := Open(Config{Hooks: path, Warn: t.Logf})
		if err != nil {
			if slices.Contains(want, path) {
				t.Errorf("hook path %s expected on this machine: %v", path, err)
			} else {
				t.Logf("hook path %s not offered here: %v", path, err)
			}
			continue
		}
		if want != nil && !slices.Contains(want, path) {
			t.Errorf("hook path %s works, but TCPTOP_EXPECT_HOOKS=%s says this machine lacks it", path, os.Getenv("TCPTOP_EXPECT_HOOKS"))
		}
		if got := s.Path(); got != path {
			t.Errorf("forced %s, got %s", path, got)
		}
		offered = append(offered, path)
		t.Run(path, func(t *testing.T) {
			defer s.Close()
			checkPairs(t, s, path != HooksKprobe && detectPreemption(hostPreemptSources()).preemptible())
			runExactChecks(t, s)
		})
	}
	if len(offered) == 0 {
		t.Fatal("no hook path works on this kernel")
	}
	// The pairs forced on, wherever this kernel does not need them: a
	// wrong attach order counts every call twice.
	for _, path := range offered {
		if path == HooksKprobe {
			continue
		}
		t.Run(path+"-pairs-forced", func(t *testing.T) {
			s, err := Open(Config{Hooks: path, Warn: t.Logf, ForcePairs: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkPairs(t, s, true)
			runExactChecks(t, s)
		})
	}
	t.Run(HooksAuto, func(t *testing.T) {
		s, err := Open(Config{Hooks: HooksAuto, Warn: t.Logf})
		if err != nil {
			t.Fatalf("auto: %v", err)
		}
		defer s.Close()
		t.Logf("auto attached %s", s.Path())
		if s.Path() != offered[0] {
			t.Errorf("auto attached %s, want %s, the first path offered (of %v)", s.Path(), offered[0], offered)
		}
		runExactChecks(t, s)
	})
	for _, p := range want {
		if !slices.Contains([]string{HooksTracepoint, HooksFexit, HooksKprobe}, p) {
			t.Errorf("TCPTOP_EXPECT_HOOKS names unknown path %q", p)
		}
	}
}

// checkPairs checks that the second program of each send/receive pair is
// loaded exactly when want says, and that the part says so.
func checkPairs(t *testing.T, s *Source, want bool) {
	t.Helper()
	if s.pairsOn() != want {
		t.Errorf("send/receive pairs %v, want %v (%s)", s.pairsOn(), want, s.preempt)
	}
	for _, h := range plans[s.Path()] {
		if !h.second {
			continue
		}
		// An optional hook's pair is absent with its function
		// (inet_sendpage, gone in 6.5): the second goes with the first.
		_, firstLoaded := s.progs.Programs[strings.TrimSuffix(h.prog, "_again")]
		if _, loaded := s.progs.Programs[h.prog]; loaded != (want && firstLoaded) {
			t.Errorf("%s loaded: %v, want %v (its first program loaded: %v)", h.prog, loaded, want && firstLoaded, firstLoaded)
		}
	}
	t.Logf("send/receive pairs: %v (%s)", s.pairsOn(), s.preempt)
}

// TestRefusedPartsAsExpected: the kinds of program this kernel refuses
// (with auto's path) are exactly those TCPTOP_EXPECT_REFUSED names
// (comma-separated, - for none; .ci/run and scripts/vm-test.sh set it
// from the refuses column of scripts/kernels.conf), so that a part the
// kernel starts or stops refusing from one day to the next fails the run
// instead of changing what tcptop reports unseen.
func TestRefusedPartsAsExpected(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	cfg.Refuse = nil
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := slices.Clone(s.RefusedKinds())
	slices.Sort(got)
	t.Logf("refused here: %v", got)
	for _, p := range s.Parts() {
		for _, r := range p.Refused {
			t.Logf("%s: refused: %s", p.Name, r)
		}
	}
	v := os.Getenv("TCPTOP_EXPECT_REFUSED")
	if v == "" {
		return
	}
	var want []string
	if v != "-" {
		want = strings.Split(v, ",")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("this kernel refuses %v, but TCPTOP_EXPECT_REFUSED=%s (scripts/kernels.conf's refuses column): a kernel that changed, or a part that broke", got, v)
	}
}

// TestForcedRefusalsTakeEffect: when the suite runs with
// TCPTOP_TEST_REFUSE (the matrix's source:refuse=... runs), each kind it
// names is refused on purpose in the source the tests open, so that the
// run really goes through the fallbacks.
func TestForcedRefusalsTakeEffect(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	if len(cfg.Refuse) == 0 {
		t.Log("TCPTOP_TEST_REFUSE is not set: nothing to check")
		return
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, kind := range cfg.Refuse {
		found := false
		for _, p := range s.Parts() {
			for _, r := range p.Refused {
				found = found || strings.Contains(r, "("+kind+"): refused on purpose")
			}
		}
		if !found {
			t.Errorf("TCPTOP_TEST_REFUSE names %s, but no part says it was refused on purpose: %+v", kind, s.Parts())
		}
	}
}
