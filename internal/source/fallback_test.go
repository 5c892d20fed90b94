package source

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// fallbackCases force each refusal a kernel may make (Config.Refuse) and
// say what must become of the part: replaced by a fallback with the same
// numbers, replaced with a named loss, or lost. The checks that must stay
// exact run through it. The VM matrix runs this on every kernel, so no
// fallback rots where the preferred part loads.
var fallbackCases = []struct {
	refuse  []string
	part    string
	verdict string // replaced (same numbers), degraded (replaced, with a loss) or lost
	checks  []string
}{
	{[]string{KindMapIter}, "hot-list read", "replaced", allChecks},
	{[]string{KindMapIter}, "table read", "replaced", nil},
	{[]string{KindMapIter, KindWalker}, "hot-list read", "degraded", allChecks},
	{[]string{KindRingbuf}, "close ring buffer", "degraded", allChecks},
	{[]string{KindTaskIter}, "owners of idle connections", "replaced", tcpChecks},
	{[]string{KindDestroy}, "close", "degraded", allChecks},
	{[]string{KindState}, "opens and state changes", "lost", nil},
	// No program reports a close: the reads find the sockets released.
	{[]string{KindState, KindDestroy}, "close", "degraded", nil},
	{[]string{KindResets}, "resets", "lost", tcpChecks},
	{[]string{KindSockError}, "socket errors", "lost", tcpChecks},
	{[]string{KindSynack}, "SYN-ACKs resent", "lost", tcpChecks},
	{[]string{KindRetrans}, "retransmit kinds", "lost", tcpChecks},
	{[]string{KindExit}, "owners that exit", "lost", tcpChecks},
	{[]string{KindDrops}, "drops", "lost", tcpChecks},
	{[]string{KindTCPIter}, "socket sweep", "lost", tcpChecks},
	{[]string{KindCgroup}, "cgroup hooks", "lost", tcpChecks},
	{[]string{KindDNS}, "DNS answers", "lost", tcpChecks},
	{[]string{KindConntrack}, "translated addresses", "lost", tcpChecks},
}

var (
	allChecks = []string{"tcp-127.0.0.1", "tcp-::1", "udp-127.0.0.1", "udp-[::1]", "tcp-200-short-lived"}
	tcpChecks = []string{"tcp-127.0.0.1", "tcp-200-short-lived"}
)

// TestEveryFallbackExact forces each refusal, checks that it costs only
// its own part (tcptop opens, the part says what replaced it or what is
// lost, every other part is as without the refusal), and runs the exact
// checks through it. Where the kernel refuses the part anyway (the
// map-element iterators here), forcing it changes nothing, and the checks
// still run.
func TestEveryFallbackExact(t *testing.T) {
	requireRoot(t)
	base := testConfig(t)
	plain, err := Open(base)
	if err != nil {
		t.Fatal(err)
	}
	normal := map[string]Part{}
	for _, p := range plain.Parts() {
		normal[p.Name] = p
	}
	plain.Close()
	for _, fc := range fallbackCases {
		if fc.verdict == "replaced" && slices.Equal(fc.refuse, []string{KindMapIter}) && !kernelAtLeast(5, 13) {
			fc.verdict = "degraded" // no walkers before bpf_for_each_map_elem: the batch copy
		}
		if slices.Contains(fc.refuse, KindCgroup) && strings.Contains(normal["cgroup hooks"].Using, "sock_create") {
			// On this path (kprobes, or a kernel before 5.12) the cgroup
			// hooks also name new sockets, which the send/receive
			// programs need: the loss covers the checks.
			fc.checks = nil
		}
		t.Run(strings.Join(fc.refuse, "+")+"/"+fc.part, func(t *testing.T) {
			cfg := base
			cfg.Refuse = append(slices.Clone(base.Refuse), fc.refuse...)
			s, err := Open(cfg)
			if err != nil {
				t.Fatalf("a refused %v took tcptop down: %v", fc.refuse, err)
			}
			defer s.Close()
			before, _ := s.Stats()
			checkVerdict(t, s, fc.part, fc.verdict)
			for _, p := range s.Parts() {
				if n, ok := normal[p.Name]; ok && p.Name != fc.part && p.Lost() && !n.Lost() && !dependsOn(p.Name, fc.refuse) {
					t.Errorf("refusing %v cost part %q too: %+v", fc.refuse, p.Name, p)
				}
			}
			for _, c := range exactChecks {
				if slices.Contains(fc.checks, c.name) {
					t.Run(c.name, func(t *testing.T) { c.check(t, s) })
				}
			}
			if slices.Contains(fc.refuse, KindState) {
				checkBytesWithoutStateHooks(t, s)
			}
			// Every connection the checks made is closed: none may stay
			// in the kernel table (a few of the host's may come and go).
			newRecorder(s).poll(t)
			if after, err := s.Stats(); err != nil || after.TCPEntries > before.TCPEntries+20 {
				t.Errorf("table entries %d before the checks, %d after (%v): closed connections left behind", before.TCPEntries, after.TCPEntries, err)
			}
		})
	}
}

// dependsOn names the parts that need another: the DNS answers and the walkers hand their
// records over a ring buffer, and with both ways to read the maps gone
// (the walkers need 5.13) the table read and the hot-list read go
// together.
func dependsOn(part string, refused []string) bool {
	switch part {
	case "opens and state changes":
		return slices.Contains(refused, KindState)
	case "DNS answers": // copied to userspace through a ring buffer
		return slices.Contains(refused, KindRingbuf)
	case "hot-list read", "table read":
		return slices.Contains(refused, KindRingbuf) || slices.Contains(refused, KindWalker) ||
			(slices.Contains(refused, KindMapIter) && !kernelAtLeast(5, 13)) // no walkers there
	}
	return false
}

// checkVerdict checks what became of the named part.
func checkVerdict(t *testing.T, s *Source, name, verdict string) {
	t.Helper()
	i := slices.IndexFunc(s.Parts(), func(p Part) bool { return p.Name == name })
	if i < 0 {
		t.Fatalf("no part %q in %+v", name, s.Parts())
	}
	p := s.Parts()[i]
	t.Logf("%s: using %q, refused %q, loss %q", p.Name, p.Using, p.Refused, p.Loss)
	if len(p.Refused) == 0 {
		t.Errorf("%s: no refusal recorded", name)
	}
	var got string
	switch {
	case p.Using == "":
		got = "lost"
	case p.Fallback && p.Same:
		got = "replaced"
	case p.Fallback:
		got = "degraded"
	default:
		got = "loaded"
	}
	if got != verdict {
		t.Errorf("%s: %s, want %s", name, got, verdict)
	}
	if got != "replaced" && p.Loss == "" {
		t.Errorf("%s: a loss without a name", name)
	}
	if strings.Contains(strings.Join(p.Refused, " "), "MEMLOCK") && !strings.Contains(strings.Join(p.Refused, " "), "ENOMEM") {
		t.Errorf("%s: the refusal blames a memlock limit: %q", name, p.Refused)
	}
}

// checkBytesWithoutStateHooks: without the state tracepoint a connection
// is found at its first call, and its bytes are still exact lifetime
// totals, closed once. Sockops saw it open: it is not partial, and has
// its direction.
func checkBytesWithoutStateHooks(t *testing.T, s *Source) {
	const sent, answered = 54321, 12345
	rec := newRecorder(s)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(sent), strconv.Itoa(answered))
	cli := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(sent), strconv.Itoa(answered))
	cli.Wait(t, 60*time.Second)
	srv.Wait(t, 60*time.Second)
	isClient := func(o conn.Observation) bool {
		return int(o.Remote.Port()) == srv.Port && int(o.Local.Port()) == cli.Port
	}
	rec.pollUntil(t, 10*time.Second, func() bool { return len(rec.closedWith(isClient)) > 0 })
	rec.poll(t)
	got := rec.closedWith(isClient)
	if len(got) != 1 || got[0].BytesOut != sent || got[0].BytesIn != answered || int(got[0].PID) != cli.PID() {
		t.Fatalf("client closed records %+v, want one with out %d in %d pid %d", got, sent, answered, cli.PID())
	}
	isServer := func(o conn.Observation) bool {
		return int(o.Local.Port()) == srv.Port && int(o.Remote.Port()) == cli.Port
	}
	rec.pollUntil(t, 10*time.Second, func() bool { return len(rec.closedWith(isServer)) > 0 })
	for _, side := range []struct {
		name string
		o    []conn.Observation
		dir  conn.Direction
	}{{"client", got, conn.DirOut}, {"server", rec.closedWith(isServer), conn.DirIn}} {
		if len(side.o) != 1 || side.o[0].Partial || side.o[0].Direction != side.dir {
			t.Errorf("%s: closed records %+v, want one not partial with direction %v (sockops saw it open)", side.name, side.o, side.dir)
		}
	}
}

// TestChurnWithStalledReaderEveryCloseOnce: connections open and close
// fast (10,000 here, 1,000 in the emulated VMs) while nobody reads for 20
// seconds (2 in the VMs): the ring buffer overflows, and the closes kept
// in the table must all come out of the per-tick read, once each, exact.
func TestChurnWithStalledReaderEveryCloseOnce(t *testing.T) {
	requireRoot(t)
	n, stall := 10000, 20*time.Second
	if os.Getenv("TCPTOP_VM") == "1" {
		n, stall = 1000, 2*time.Second
	}
	cfg := testConfig(t)
	var warnings []string
	cfg.Warn = func(format string, args ...any) {
		t.Logf(format, args...)
		warnings = append(warnings, fmt.Sprintf(format, args...))
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	startWarnings := len(warnings)
	newRecorder(s).poll(t) // the first tick: the sweep at start is behind us
	checkClosesAfterStall(t, s, n, stall)
	// A read that could not finish (a walk that never ends) would only
	// delay news here: it is a failure all the same.
	if w := warnings[startWarnings:]; len(w) > 0 {
		t.Errorf("warnings while reading: %q", w)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats after the churn: %+v", st)
	switch {
	case s.cfg.missReleases:
		// No close reached the ring buffer: each was found released.
		if st.ClosesInferred != uint64(2*n) {
			t.Errorf("%d closes inferred from released sockets, want %d (both ends of %d connections)", st.ClosesInferred, 2*n, n)
		}
	case !s.noRingbuf && st.EventsLost == 0:
		t.Errorf("the ring buffer never overflowed: the test proved nothing")
	}
}
