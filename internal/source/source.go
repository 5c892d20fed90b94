// Package source is tcptop's kernel side in Go: it loads the BPF programs
// from bpf/, attaches them to the hooks the running kernel offers, and each
// tick turns the kernel's per-connection maps, the ring buffer of close
// events and a sock_diag dump into plain conn.Observation values. Nothing
// outside this package sees a cilium/ebpf or bpf2go type.
package source

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/tcptop/tcptop/internal/conn"
)

// Config tunes the source. The zero value is ready to use.
type Config struct {
	// Hooks picks the send/receive hook path: HooksAuto (the default)
	// tries tracepoint, fexit, kprobe in that order.
	Hooks string
	// CgroupPath is the cgroup v2 directory the cgroup hooks attach to;
	// empty means the root of the first cgroup2 mount.
	CgroupPath string
	// ProcRoot is where /proc is mounted (for socket inode → pid).
	ProcRoot string
	// Warn receives non-fatal notices (a hook that could not attach).
	Warn func(format string, args ...any)
	// TCPTableSize, UDPTableSize and EventBufferBytes override the sizes
	// of the kernel maps (0: the defaults in bpf/tcptop.bpf.c). Tests use
	// small ones to exercise the full-map and full-ring-buffer paths.
	TCPTableSize, UDPTableSize, EventBufferBytes uint32
}

// kernelObjects are the maps and variables every path shares; programs
// differ by path and live in Source.progs, which also keeps the maps
// behind the variables.
type kernelObjects struct {
	tcptopMaps
	tcptopVariables
}

// Source is a loaded and attached set of tcptop probes.
type Source struct {
	cfg    Config
	objs   kernelObjects
	progs  *ebpf.Collection
	links  []link.Link
	events *ringbuf.Reader
	path   string
	hooks  []string
	gaps   []string

	diagFailed bool // sock_diag failed once: reported, not retried loudly
	smallPool  bool // kretprobes with the kernel's default pool: reported

	comms    commCache
	diag     map[uint64]diagSock
	owners   map[uint64]owner // TCP cookie → owner found in /proc
	triedIno map[uint32]bool  // inodes already looked up in /proc
	udpSeen  map[conn.FlowID]udpSeen
	obs      []conn.Observation
	batch    tcpBatch
	udp      udpBatch
}

// Open checks privileges and the kernel, then loads and attaches the first
// hook path the kernel offers. On any error nothing stays attached.
func Open(cfg Config) (_ *Source, err error) {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.Warn == nil {
		cfg.Warn = func(string, ...any) {}
	}
	order, err := pathOrder(cfg.Hooks)
	if err != nil {
		return nil, err
	}
	if err := checkPrivileges(); err != nil {
		return nil, err
	}
	kernel, err := loadKernelBTF(kernelBTFPath)
	if err != nil {
		return nil, err
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; newer ones
	// to the memory cgroup, where this is a no-op. Without
	// CAP_SYS_RESOURCE it can fail; loading then tells whether it mattered.
	_ = rlimit.RemoveMemlock()

	s := &Source{
		cfg: cfg, comms: commCache{}, diag: map[uint64]diagSock{},
		owners: map[uint64]owner{}, triedIno: map[uint32]bool{}, udpSeen: map[conn.FlowID]udpSeen{},
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// A sock_diag dump makes the kernel name (cookie) every existing TCP
	// socket, which paths that read the cookie instead of asking for it
	// depend on for connections older than tcptop.
	_ = dumpTCP(s.diag)

	var reasons []string
	denied := 0
	for _, path := range order {
		err := s.tryPath(kernel, path)
		if err == nil {
			break
		}
		if errors.Is(err, ErrPermission) {
			denied++
		}
		reasons = append(reasons, path+": "+err.Error())
		s.detach()
	}
	switch {
	case s.path != "":
	case denied == len(order) && order[0] == HooksTracepoint:
		// Even the plainest path was refused: privileges, not the kernel.
		return nil, ErrPermission
	default:
		return nil, fmt.Errorf("%w: no usable send/receive hooks (%s)", ErrKernel, strings.Join(reasons, "; "))
	}
	if s.events, err = ringbuf.NewReader(s.objs.Events); err != nil {
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return s, nil
}

// Path is the send/receive hook path in use: tracepoint, fexit or kprobe.
func (s *Source) Path() string { return s.path }

// Hooks names the hooks that were attached, for the user to see.
func (s *Source) Hooks() []string { return s.hooks }

// Unavailable describes what this kernel or setup cannot provide (empty
// when every field is exact).
func (s *Source) Unavailable() []string { return s.gaps }

// Close detaches every probe and frees the maps. It is safe to call more
// than once and on a partly opened source.
func (s *Source) Close() error {
	var errs []error
	if s.events != nil {
		errs = append(errs, s.events.Close())
		s.events = nil
	}
	errs = append(errs, s.detach())
	return errors.Join(errs...)
}

// detach closes links, programs and maps, leaving the source empty.
func (s *Source) detach() error {
	var errs []error
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	s.links, s.hooks, s.gaps, s.path = nil, nil, nil, ""
	s.smallPool = false
	errs = append(errs, s.objs.tcptopMaps.Close())
	if s.progs != nil {
		s.progs.Close() // the programs and the maps behind the variables
		s.progs = nil
	}
	s.objs = kernelObjects{}
	return errors.Join(errs...)
}

// Stats counts what the kernel side could not record.
type Stats struct {
	TCPTableFull uint64 // TCP connections not tracked: map full
	UDPTableFull uint64 // UDP datagrams not counted: map full
	EventsLost   uint64 // close events that found the ring buffer full (kept in the map instead)
}

// Stats reads the kernel-side failure counters.
func (s *Source) Stats() (Stats, error) {
	var st Stats
	err := errors.Join(
		s.objs.TcpTableFull.Get(&st.TCPTableFull),
		s.objs.UdpTableFull.Get(&st.UDPTableFull),
		s.objs.EventsLost.Get(&st.EventsLost),
	)
	return st, err
}

// Snapshot returns one observation per live or just-closed flow, with
// cumulative counters. The slice is reused by the next call.
func (s *Source) Snapshot() ([]conn.Observation, error) {
	s.obs = s.obs[:0]
	// Order matters: sock_diag first, then the map, then the ring buffer.
	// A connection opened after the dump is in the map (and not mistaken
	// for one that predates tcptop); one closed after the map was read has
	// its close event drained last, in this tick or the next.
	if err := dumpTCP(s.diag); err != nil && !s.diagFailed {
		// Without sock_diag (tcp_diag not loaded, say) tcptop still counts
		// everything the probes see; it says once what is missing.
		s.diagFailed = true
		s.gap("connections older than tcptop, and TCP counters refreshed between sends (%v; is the tcp_diag module loaded?)", err)
	}
	if err := s.readTCP(); err != nil {
		return nil, err
	}
	if err := s.drainCloses(); err != nil {
		return nil, err
	}
	s.addUnseenTCP()
	s.resolveOwners()
	if err := s.readUDP(); err != nil {
		return nil, err
	}
	return s.obs, nil
}
