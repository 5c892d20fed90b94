package source

// pairsPart names the part that says whether the send/receive hooks have
// their second program (bpf/tcptop.bpf.c, io_claims).
const pairsPart = "send/receive pairs"

// pairsLoss is what a kernel whose model can be switched at run time
// would cost once switched to a preemptible one: the pairs are decided at
// start.
const pairsLoss = "a switch of the preemption model to full or lazy through /sys/kernel/debug/sched/preempt after tcptop started: " +
	"then the sends and receives the kernel skips (a task preempted inside the program on that CPU) go uncounted until tcptop restarts"

// wantPairs reports whether a path's send/receive hooks get their second
// program: on the tracepoint and fexit paths (kprobes run with
// preemption off, and have no pairs), where the kernel can preempt a task
// inside the first or a test forces them.
func (s *Source) wantPairs(path string) bool {
	return path != HooksKprobe && (s.cfg.ForcePairs || s.preempt.preemptible())
}

// notePairs records the pairs' part: loaded, or why not needed.
func (s *Source) notePairs(on bool) {
	p := Part{Name: pairsPart}
	switch {
	case s.path == HooksKprobe:
		p.Skipped = "the kprobe path runs with preemption off"
	case on && !s.preempt.preemptible():
		p.Using = "a second program per hook, forced on (test switch); " + s.preempt.String()
	case on:
		p.Using = "a second program per hook: " + s.preempt.String()
	default:
		p.Skipped = s.preempt.String()
		if s.preempt.dynamic {
			p.Loss = pairsLoss
		}
	}
	if on {
		s.cfg.Detail("%s: %s", p.Name, p.Using)
	}
	s.part(p)
}

// pairsOn reports whether the send/receive hooks have their second program.
func (s *Source) pairsOn() bool {
	for _, p := range s.parts {
		if p.Name == pairsPart {
			return p.Using != ""
		}
	}
	return false
}
