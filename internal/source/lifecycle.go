package source

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// lifecyclePart is a group of lifecycle programs that stand or fall
// together, and what tcptop loses without them.
type lifecyclePart struct {
	name  string
	kind  string // for Config.Refuse
	hooks []hook
	loss  string
	since string // an optional part: the first kernel that has its hook
}

// lifecycleParts groups lifecycleHooks into parts.
func lifecycleParts() []lifecyclePart {
	byProg := map[string]hook{}
	for _, h := range lifecycleHooks {
		byProg[h.prog] = h
	}
	group := func(names ...string) []hook {
		var out []hook
		for _, n := range names {
			out = append(out, byProg[n])
		}
		return out
	}
	return []lifecyclePart{
		{"opens and state changes", KindState, group(tcptopProgTcptopState, tcptopProgTcptopStateAgain),
			"new connections show once they send or receive, without connect_us or syn_retrans (and as partial, without direction, where sockops is missing too); state changes show at the next read; the error of a failed connect is lost", ""},
		{"close", KindDestroy, group(tcptopProgTcptopClosed, tcptopProgTcptopClosedAgain),
			closesFromReadsLoss, ""},
		{"resets", KindResets, group(tcptopProgTcptopRstIn, tcptopProgTcptopRstOut),
			"rst_in and rst_out stay 0, and an abortive close without a socket error has no error \"reset\"", ""},
		{"socket errors", KindSockError, group(tcptopProgTcptopSkError),
			"the error of a failed connection is read when it reaches CLOSE, which an application woken by the report may have cleared already", "Linux 5.13+"},
		{"SYN-ACKs resent", KindSynack, group(tcptopProgTcptopSynackAgain),
			"an accepted connection whose SYN-ACK had to be sent again has no connect_us (-1)", "Linux 4.15+"},
		{"retransmit kinds", KindRetrans, group(tcptopProgTcptopRetrans), retransLoss, ""},
		{"owners that exit", KindExit, group(tcptopProgTcptopExit), exitLoss, ""},
	}
}

// exitLoss is what tcptop loses without the exit hook.
const exitLoss = "a connection whose owner exited and left it to a child names the dead pid (which the kernel may reuse) until the child sends or receives on it"

// retransLoss is what tcptop loses without the retransmit hook.
const retransLoss = "retrans_rto, retrans_fast and retrans_tlp stay 0 (retrans and retrans_delta are still the kernel's total_retrans)"

// ringbufLoss is what closes lose without a ring buffer.
const ringbufLoss = "closes are read from the kernel table at the next tick; while the table is full, a connection it could not hold gets no close record"

// ringbufOrStandIn creates the close ring buffer alone first: where the
// kernel refuses it, both ring buffers become stand-ins that the programs
// never use (have_ringbuf), and closes stay in the table for the hot list
// read, as when the ring buffer is full.
func (s *Source) ringbufOrStandIn(spec *ebpf.CollectionSpec) error {
	err := s.forced(KindRingbuf)
	if err == nil {
		var m *ebpf.Map
		if m, err = ebpf.NewMap(spec.Maps[tcptopMapEvents]); err == nil {
			m.Close()
			s.noRingbuf = false
			return nil
		}
	}
	s.noRingbuf = true
	s.ringbufRefusal = s.refusal(KindRingbuf, tcptopMapEvents, err)
	for _, name := range []string{tcptopMapEvents, tcptopMapWalkOut, tcptopMapDnsEvents} {
		spec.Maps[name] = &ebpf.MapSpec{Name: name, Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	}
	if err := spec.Variables[tcptopVarHaveRingbuf].Set(false); err != nil {
		return fmt.Errorf("configure eBPF object: %w", err)
	}
	return nil
}

// noteRingbuf records what became of the close ring buffer.
func (s *Source) noteRingbuf() {
	if !s.noRingbuf {
		s.part(Part{Name: "close ring buffer", Using: KindRingbuf})
		return
	}
	s.part(Part{Name: "close ring buffer", Using: "kernel table, read by the hot list", Fallback: true,
		Refused: []string{s.ringbufRefusal}, Loss: ringbufLoss})
}

// closesFromReads is where closes come from when no program reports
// them: the reads find the socket released (bpf/iter.h, close_missed),
// as they do for a close whose programs the kernel skipped.
const closesFromReads = "released sockets, found by the reads"

// closesFromReadsLoss is what closes lose then.
const closesFromReadsLoss = "a close is reported at the first read that finds its socket released (the hot list's, within a tick or two; else the table's, every 10 s), with its time then and the counters of its last call and read; its error is the last one seen"

// closeAtStateLoss is what the close loses when it is taken at CLOSE.
const closeAtStateLoss = "a close is reported when the connection reaches CLOSE, not when its socket is released: bytes read after that (a half-closed client reading the rest) are not counted"

// closeAtState turns the close part's refusal into its fallback: the
// state programs report the close at CLOSE.
func (s *Source) closeAtState(p *Part) {
	if err := s.objs.CloseAtState.Set(uint8(1)); err != nil {
		p.Refused = append(p.Refused, fmt.Sprintf("close at CLOSE: %v", err))
		return
	}
	p.Using, p.Fallback, p.Loss = KindState+" (at CLOSE)", true, closeAtStateLoss
}

// attachLifecycle loads and attaches each lifecycle part on its own.
func (s *Source) attachLifecycle(spec *ebpf.CollectionSpec, kernel *btf.Spec) {
	stateLoaded := false
	for _, lp := range lifecycleParts() {
		p := Part{Name: lp.name, Loss: lp.loss}
		var names []string
		for _, h := range lp.hooks {
			names = append(names, h.prog)
		}
		if !kernelHas(kernel, lp.hooks[0]) {
			// Only an optional part can be missing here (loadKernelBTF
			// checked the rest): the socket error report before 5.13.
			p.Refused = []string{s.refusal(lp.kind, names[0], fmt.Errorf("not in this kernel (%s)", lp.since))}
			p.Minor = true
			s.part(p)
			continue
		}
		err := s.forced(lp.kind)
		var coll *ebpf.Collection
		if err == nil {
			coll, err = s.loadSeparately(spec, names...)
		}
		if err == nil {
			for _, h := range lp.hooks {
				if err = s.attach(coll.Programs[h.prog], h); err != nil {
					break
				}
			}
		}
		switch {
		case err == nil:
			p.Using = lp.hooks[0].String()
			stateLoaded = stateLoaded || lp.kind == KindState
			s.retransKinds = s.retransKinds || lp.kind == KindRetrans
		default:
			p.Refused = []string{s.refusal(lp.kind, strings.Join(names, "+"), err)}
			switch {
			case lp.kind == KindDestroy && stateLoaded:
				s.closeAtState(&p)
			case lp.kind == KindDestroy:
				p.Using, p.Fallback = closesFromReads, true
			}
		}
		s.part(p)
	}
}
