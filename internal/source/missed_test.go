package source

import "testing"

// TestClosesFoundWhenTheKernelSkipsTheRelease runs the close tests with the
// close programs doing nothing, as if the kernel had skipped every run of
// both programs of the pair (under lazy preemption, 7.3 skipped both for a
// few closes in a thousand). Every close must then come from the reads
// finding the socket released (bpf/iter.h, close_missed): once, with the
// exact bytes, and with nothing left in the kernel table.
func TestClosesFoundWhenTheKernelSkipsTheRelease(t *testing.T) {
	requireRoot(t)
	t.Setenv("TCPTOP_TEST_MISS_RELEASES", "1")
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"exact-bytes", TestTCPExactBytesPIDAndClose},
		{"short-lived", TestShortLivedConnectionsAllReported},
		{"half-close-read-after-close", TestHalfCloseReadAfterCloseExactOnce},
		{"reads-after-reset", TestReadsAfterResetCount},
		{"orphaned-fin-wait2", TestOrphanedFinWait2ClosesOnce},
		{"churn-with-stalled-reader", TestChurnWithStalledReaderEveryCloseOnce},
	} {
		t.Run(c.name, c.test)
	}
}

// checkNoCloseInvented notes a source that made more closes from released
// sockets than the kernel skipped runs of both close programs: a close is
// inferred for a release both programs of the pair missed, so more means
// a connection whose release went uncounted some other way. It is a note,
// not a failure: the source sees every connection on the host, and the
// test's own connections are checked exactly by the caller (a close
// inferred early, or twice, fails there). The matrix's host line once
// inferred one close with no skip counted, not seen again in 45 runs of
// the close tests (docs/design.md, 2026-12-07).
func checkNoCloseInvented(t *testing.T, s *Source) {
	t.Helper()
	if s.cfg.missReleases {
		return
	}
	st, err := s.Stats()
	if err != nil || st.ClosesInferred == 0 {
		return
	}
	if skipped := releaseSkips(s); st.ClosesInferred > skipped {
		t.Logf("note: %d closes inferred from released sockets (of any connection on the host), but the kernel skipped both close programs at most %d times",
			st.ClosesInferred, skipped)
	}
}

// releaseSkips is the fewest runs the kernel skipped of either program of
// the pair that reports closes (the release pair, or the state pair where
// closes are taken at CLOSE): a close is missed only when both skip it.
func releaseSkips(s *Source) uint64 {
	skips := map[string]uint64{}
	for _, p := range s.allPrograms() {
		info, err := p.Info()
		if err != nil {
			continue
		}
		if st, err := p.Stats(); err == nil {
			skips[info.Name] = st.RecursionMisses
		}
	}
	// The kernel keeps 15 characters of a program's name.
	short := func(name string) string { return name[:min(len(name), 15)] }
	pair := func(first, second string) (uint64, bool) {
		a, ok1 := skips[short(first)]
		b, ok2 := skips[short(second)]
		return min(a, b), ok1 && ok2
	}
	if n, ok := pair(tcptopProgTcptopClosed, tcptopProgTcptopClosedAgain); ok {
		return n
	}
	n, _ := pair(tcptopProgTcptopState, tcptopProgTcptopStateAgain)
	return n
}

// TestReceivesTheKernelSkippedSettled runs the exact transfer with the
// receive programs counting nothing, as if the kernel had skipped both
// programs of every receive's pair (7.3 under churn: one in a thousand).
// Each end's bytes in must then come from its counters as it ends: at its
// release, and where the kernel skipped the release programs too, when
// the orphaned socket reaches CLOSE (bpf/lifecycle.h), before the read
// that finds it released makes the close.
func TestReceivesTheKernelSkippedSettled(t *testing.T) {
	requireRoot(t)
	t.Setenv("TCPTOP_TEST_LOSE_RECEIVES", "1")
	t.Run("released", TestTCPExactBytesPIDAndClose)
	t.Setenv("TCPTOP_TEST_MISS_RELEASES", "1")
	t.Run("release-skipped", TestTCPExactBytesPIDAndClose)
}
