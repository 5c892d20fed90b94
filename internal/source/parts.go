package source

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// A kernel may refuse any one part of tcptop's kernel side on its own: a
// kind of program (6.18.44 refuses every iter/bpf_map_elem program), a
// helper, a map type. Each part is loaded alone, so that a refusal costs
// only that part, and each has a fallback that gives the same numbers or
// a loss that is named (docs/design.md, "every part falls back").

// Part is what became of one part of the kernel side: loaded, replaced by
// a fallback, or lost.
type Part struct {
	Name     string   // what the part does, for people: "hot-list read"
	Using    string   // what does it now ("iter/bpf_map_elem", "raw_tp walker", "/proc"); empty when lost
	Fallback bool     // Using is not the preferred way
	Same     bool     // the fallback gives the same numbers: nothing is lost
	Refused  []string // each refusal: the program, the kernel's errno, the verifier's last line
	Loss     string   // what is missing while the part is lost or degraded
	// Skipped: the part is not needed on this kernel, and why ("preemption
	// model none (...)"); Using is empty, Loss names what it would take
	// for it to be needed while tcptop runs. Nothing is lost.
	Skipped string
	// Minor: an optional nicety this kernel is too old for (not a
	// refusal), too small to warn about at every start (a cron job on
	// an older kernel would mail it every time): -v and --check say it.
	Minor bool
}

// Lost reports whether the part costs the user something.
func (p Part) Lost() bool { return p.Skipped == "" && (p.Using == "" || (p.Fallback && !p.Same)) }

// Kinds of program (or map) a kernel may refuse, as Config.Refuse names
// them.
const (
	KindMapIter   = "iter/bpf_map_elem"
	KindTCPIter   = "iter/tcp"
	KindTaskIter  = "iter/task_file"
	KindWalker    = "raw_tp" // the walkers run with BPF_PROG_TEST_RUN
	KindRingbuf   = "ringbuf"
	KindState     = "tp_btf/inet_sock_set_state"
	KindDestroy   = "tp_btf/tcp_destroy_sock"
	KindResets    = "tp_btf/tcp_receive_reset"
	KindSockError = "tp_btf/inet_sk_error_report"
	KindSynack    = "tp_btf/tcp_retransmit_synack"
	KindRetrans   = "tp_btf/tcp_retransmit_skb"
	KindExit      = "tp_btf/sched_process_exit"
	KindCgroup    = "cgroup"
	// KindDNS ("cgroup_skb") is in dns.go, KindDrops in drops.go,
	// KindConntrack in xlat.go.
)

// Refusable lists the kinds Config.Refuse accepts: every part with a
// fallback or a named loss.
func Refusable() []string {
	return []string{KindMapIter, KindWalker, KindTCPIter, KindTaskIter, KindRingbuf,
		KindState, KindDestroy, KindResets, KindSockError, KindSynack, KindRetrans, KindExit, KindCgroup, KindDNS, KindDrops, KindConntrack}
}

// errRefusedOnPurpose stands for a kernel's refusal that Config.Refuse
// asked for.
var errRefusedOnPurpose = fmt.Errorf("refused on purpose (Config.Refuse, a test switch): %w", unix.EPERM)

// errNeedsRingbuf: a walker cannot run where the ring buffer was refused.
var errNeedsRingbuf = errors.New("the walkers hand their records over a ring buffer, which was refused")

// refusal records that the kernel refused a program (or map) of kind,
// unless a test forced it or it only followed from another refusal, and
// describes it (describeRefusal).
func (s *Source) refusal(kind, prog string, err error) string {
	if !errors.Is(err, errRefusedOnPurpose) && !errors.Is(err, errNeedsRingbuf) && !slices.Contains(s.refused, kind) {
		s.refused = append(s.refused, kind)
	}
	return describeRefusal(prog, kind, err)
}

// RefusedKinds lists the kinds of program (Refusable) this kernel
// refused, forced refusals left out: what scripts/kernels.conf records
// per kernel.
func (s *Source) RefusedKinds() []string { return s.refused }

// refuses reports whether the configuration asks to treat kind as refused.
func (s *Source) refuses(kind string) bool { return slices.Contains(s.cfg.Refuse, kind) }

// forced returns the refusal Config.Refuse asks for, or nil.
func (s *Source) forced(kind string) error {
	if s.refuses(kind) {
		return errRefusedOnPurpose
	}
	return nil
}

// describeRefusal says what the kernel refused and why, in one line: the
// program and its kind, the errno by name, and the verifier's last line
// when it has one. The advice cilium/ebpf adds to any EPERM ("MEMLOCK
// may be too low") is dropped: the errno's own name says what it was.
func describeRefusal(prog, kind string, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): ", prog, kind)
	var errno unix.Errno
	switch {
	case errors.Is(err, errRefusedOnPurpose):
		b.WriteString("refused on purpose (test switch)")
	case errors.As(err, &errno):
		fmt.Fprintf(&b, "%s (%s)", errno.Error(), unix.ErrnoName(errno))
	case errors.Is(err, ebpf.ErrNotSupported):
		b.WriteString("not supported by this kernel")
	default:
		b.WriteString(oneLine(err))
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		if last := lastVerifierLine(ve); last != "" {
			fmt.Fprintf(&b, "; verifier: %s", last)
		}
	}
	return b.String()
}

// lastVerifierLine is the verifier's verdict: the last line of its log
// that says something (not the statistics it ends with).
func lastVerifierLine(ve *ebpf.VerifierError) string {
	for i := len(ve.Log) - 1; i >= 0; i-- {
		line := strings.TrimSpace(ve.Log[i])
		if line == "" || strings.HasPrefix(line, "processed ") || strings.HasPrefix(line, "verification time") ||
			strings.HasPrefix(line, "stack depth") || strings.HasPrefix(line, "-- END PROG LOAD LOG --") {
			continue
		}
		return line
	}
	return ""
}

// part records what became of one part, and tells the user: every
// refusal under -v (Warn's verbose side, through Config.Detail), and one
// line per part that costs something.
func (s *Source) part(p Part) {
	s.parts = append(s.parts, p)
	for _, r := range p.Refused {
		s.cfg.Detail("refused: %s", r)
	}
	switch {
	case p.Skipped != "" && p.Loss != "":
		s.cfg.Detail("%s: not needed: %s; not covered: %s", p.Name, p.Skipped, p.Loss)
	case p.Skipped != "":
		s.cfg.Detail("%s: not needed: %s", p.Name, p.Skipped)
	case p.Using == "" && p.Minor:
		s.gaps = append(s.gaps, p.Name+": "+p.Loss)
		s.cfg.Detail("not available: %s: %s (%s)", p.Name, p.Loss, strings.Join(p.Refused, "; "))
	case p.Using == "":
		s.gaps = append(s.gaps, p.Name+": "+p.Loss)
		s.cfg.Warn("not available: %s: %s (refused: %s)", p.Name, p.Loss, strings.Join(p.Refused, "; "))
	case p.Fallback && !p.Same && p.Minor:
		s.gaps = append(s.gaps, p.Name+": "+p.Loss)
		s.cfg.Detail("%s: %s instead; lost: %s", p.Name, p.Using, p.Loss)
	case p.Fallback && !p.Same:
		s.gaps = append(s.gaps, p.Name+": "+p.Loss)
		s.cfg.Warn("%s: %s instead; lost: %s", p.Name, p.Using, p.Loss)
	case p.Fallback:
		s.cfg.Detail("%s: %s instead, with the same numbers", p.Name, p.Using)
	}
}

// Parts says, for each part of the kernel side, what does it now (tcptop
// --check prints it).
func (s *Source) Parts() []Part { return s.parts }
