// Package source is tcptop's kernel side in Go: it loads the BPF programs
// from bpf/, attaches them to the hooks the running kernel offers, and each
// tick reads what moved (the hot list, a periodic sweep of every TCP
// socket, the ring buffer of closes, the UDP flows) into plain
// conn.Observation values. Nothing outside this package sees a cilium/ebpf
// or bpf2go type.
package source

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/dns"
)

// Config tunes the source. The zero value is ready to use.
type Config struct {
	// Hooks picks the send/receive hook path: HooksAuto (the default)
	// tries tracepoint, fexit, kprobe in that order.
	Hooks string
	// CgroupPath is the cgroup v2 directory the cgroup hooks attach to;
	// empty means the root of the first cgroup2 mount.
	CgroupPath string
	// ProcRoot is where /proc is mounted (for owners on kernels before 5.11).
	ProcRoot string
	// Warn receives non-fatal notices (a hook that could not attach).
	Warn func(format string, args ...any)
	// Detail receives what tcptop -v says besides: each program the
	// kernel refused, and each fallback that gives the same numbers.
	Detail func(format string, args ...any)
	// Refuse names kinds of program (Refusable) to treat as refused by
	// the kernel, so that tests can force each fallback on any kernel.
	Refuse []string
	// TCPTableSize, UDPTableSize, HotListSize and EventBufferBytes
	// override the sizes of the kernel maps (0: the defaults). Tests use
	// small ones to exercise the full-map and full-ring-buffer paths.
	TCPTableSize, UDPTableSize, HotListSize, EventBufferBytes uint32
	// UDPTimeout is how long a UDP flow may stay idle before the source
	// forgets it (reporting it Expired); 0 means never.
	UDPTimeout time.Duration
	// SweepEvery is how often every TCP socket is re-read, for counters
	// that move without any call (default 10s; the first tick always
	// sweeps).
	SweepEvery time.Duration

	// Names is the cache the DNS answers go into (remote_name); nil
	// makes one of dns.DefaultCacheSize addresses.
	Names *dns.Cache

	// ForcePairs attaches the second program of each send/receive pair
	// even where the kernel cannot preempt the first (preempt.go): a test
	// switch (TCPTOP_TEST_PAIRS=1), so the pairs are tested on every
	// kernel, not only where they are needed.
	ForcePairs bool

	// missReleases, set by tests (TCPTOP_TEST_MISS_RELEASES=1), makes the
	// close programs do nothing, as when the kernel skips them: every
	// close then comes from the reads finding the socket released.
	missReleases bool

	// loseReceives, set by tests (TCPTOP_TEST_LOSE_RECEIVES=1), makes
	// the TCP receive programs count no bytes, as when the kernel skips
	// both programs of a receive's pair: the bytes in must then come
	// from the socket's counters as it ends.
	loseReceives bool

	// forceRealtime, set by tests, runs the tick at real-time priority
	// (realtime.go) on any path, so the mechanism is tested where the
	// kprobe path cannot load.
	forceRealtime bool
	// realtimeOff, set by tests (TCPTOP_TEST_REALTIME=0), keeps the tick
	// in the normal class even where it needs the real-time one: the
	// break that shows what the priority is for.
	realtimeOff bool

	// ownersFromProc, set by tests, finds owners in /proc as kernels
	// before 5.11 do, even where the owner iterator would load.
	ownersFromProc bool
}

// DefaultSweepEvery bounds how late a counter that moves without any call
// on its socket (segments for an application that is not reading,
// keepalives) is reported.
const DefaultSweepEvery = 10 * time.Second

// kernelObjects are the maps and variables every path shares; programs
// differ by path and live in Source.progs, which also keeps the maps
// behind the variables.
type kernelObjects struct {
	tcptopMaps
	tcptopVariables
}

// Source is a loaded and attached set of tcptop probes.
type Source struct {
	cfg     Config
	objs    kernelObjects
	progs   *ebpf.Collection
	maps    map[string]*ebpf.Map // every map of progs by name, assigned or not (not owned)
	extra   []*ebpf.Collection   // optional programs, loaded one by one
	links   []link.Link
	events  *ringbuf.Reader
	walkOut *ringbuf.Reader // the walkers' records, where they replace map-element iterators
	path    string
	hooks   []string
	gaps    []string
	parts   []Part
	refused []string // kinds the kernel refused (RefusedKinds)

	iters     iterators
	tick      uint32
	lastSweep time.Time
	forceScan bool       // the hot list overflowed: look for closed entries in the table
	smallPool bool       // kretprobes with the kernel's default pool: reported
	preempt   preemption // the kernel's preemption model: whether the send/receive pairs are needed
	realtime  bool       // the tick runs at real-time priority (realtime.go)

	noRingbuf      bool   // the kernel refused ring buffers: closes stay in the table
	retransKinds   bool   // the retransmit hook is attached: retransmits are counted by kind
	ringbufRefusal string // and what it said

	tcp     tcpState
	names   commCache
	clock   clock
	owner   ownerState
	udp     udpState
	dns     dnsState
	drops   dropState
	xlat    xlatState
	out     func(*conn.Observation) // where this tick's observations go
	scratch conn.Observation        // the one handed to out, reused
	obs     []conn.Observation      // Snapshot's
	last    Stats

	warned   map[string]bool
	btfCache *btf.Cache // while loading

	// readFault, when set by a test, fails the per-tick kernel reads.
	readFault error
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
	if cfg.Detail == nil {
		cfg.Detail = func(string, ...any) {}
	}
	for _, k := range cfg.Refuse {
		if !slices.Contains(Refusable(), k) {
			return nil, fmt.Errorf("cannot refuse %q on purpose (want one of %s)", k, strings.Join(Refusable(), ", "))
		}
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = DefaultSweepEvery
	}
	order, err := pathOrder(cfg.Hooks)
	if err != nil {
		return nil, err
	}
	if err := checkPrivileges(); err != nil {
		return nil, err
	}
	cache := btf.NewCache()
	kernel, err := loadKernelBTF(kernelBTFPath, cache)
	if err != nil {
		return nil, err
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; newer ones
	// to the memory cgroup, where this is a no-op. Without
	// CAP_SYS_RESOURCE it can fail; loading then tells whether it mattered.
	_ = rlimit.RemoveMemlock()

	s := &Source{cfg: cfg, names: commCache{}, btfCache: cache, clock: newClock(), preempt: detectPreemption(hostPreemptSources())}
	s.tcp.init()
	s.owner.init()
	s.udp.init()
	s.drops.init()
	s.dns.cache = cfg.Names
	if s.dns.cache == nil {
		s.dns.cache = dns.NewCache(0)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

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
	if err := s.setTick(1); err != nil {
		return nil, err
	}
	// Paths that read the cookie from the socket need the kernel to have
	// named every socket: a sock_diag dump names those older than the
	// cgroup program that names new ones.
	nameSockets := s.path == HooksKprobe || !cookieHelperAvailable()
	if s.iters.sweep != nil {
		if s.iters.elsewhere, err = openSweepsInNamespaces(s.iters.sweep, cfg.ProcRoot, nameSockets); err != nil {
			s.cfg.Warn("connections older than tcptop in other network namespaces: %v", err)
		}
	}
	// The kernel's types (several MB once parsed) are needed only to load.
	s.btfCache = nil
	debug.FreeOSMemory()
	if !s.noRingbuf {
		if s.events, err = ringbuf.NewReader(s.objs.Events); err != nil {
			return nil, fmt.Errorf("open ring buffer: %w", err)
		}
	}
	if err := s.startDNS(); err != nil {
		return nil, fmt.Errorf("open DNS ring buffer: %w", err)
	}
	s.openXlat()
	if nameSockets {
		if err := nameExistingSockets(); err != nil {
			s.gap("connections older than tcptop (%v; is the tcp_diag module loaded?)", err)
		}
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
	for _, rd := range s.iters.elsewhere {
		rd.Close()
	}
	errs = append(errs, s.stopDNS())
	s.closeXlat()
	errs = append(errs, s.detach())
	return errors.Join(errs...)
}

// detach closes links, programs and maps, leaving the source empty.
func (s *Source) detach() error {
	var errs []error
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	s.links, s.hooks, s.gaps, s.parts, s.refused, s.path = nil, nil, nil, nil, nil, ""
	if s.walkOut != nil {
		errs = append(errs, s.walkOut.Close())
		s.walkOut = nil
	}
	s.iters = iterators{}
	s.smallPool = false
	s.dns.attached = false
	s.drops.attached, s.drops.reasons = false, false
	errs = append(errs, s.objs.tcptopMaps.Close())
	for _, c := range s.extra {
		c.Close()
	}
	s.extra = nil
	if s.progs != nil {
		s.progs.Close() // the programs and the maps behind the variables
		s.progs = nil
	}
	s.objs, s.maps = kernelObjects{}, nil
	return errors.Join(errs...)
}

// allPrograms lists every program loaded, for benchmarks.
func (s *Source) allPrograms() []*ebpf.Program {
	var out []*ebpf.Program
	for _, c := range append([]*ebpf.Collection{s.progs}, s.extra...) {
		for _, p := range c.Programs {
			out = append(out, p)
		}
	}
	return out
}

// NeedsProcOwners says which capabilities reading the kernel needs once everything
// is attached: none for the maps and iterators on their file descriptors
// (on kernels where the bpf() system call itself checks CAP_BPF, Probe
// fails without it), CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to find
// owners in other users' /proc/PID/fd where the kernel cannot (before
// 5.11).
func (s *Source) NeedsProcOwners() bool { return s.iters.owners == nil }

// Probe makes the system calls a tick makes, to tell whether they work
// with the privileges the process has now.
func (s *Source) Probe() error {
	var v tcptopTcpConn
	if err := s.objs.TcpConns.Lookup(uint64(0), &v); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	switch h := s.iters.hot; {
	case h.iter != nil:
		rd, err := h.iter.Open()
		if err != nil {
			return err
		}
		return rd.Close()
	case h.walker != nil:
		return s.walk(h.walker, h.name, func(*tcptopConnRecord) {})
	}
	return nil
}

// Stats counts what the kernel side holds and what it could not record.
type Stats struct {
	TCPEntries, TCPTableSize uint64 // connections in the kernel's TCP table, and its size
	UDPEntries, UDPTableSize uint64 // flows in the UDP table, and its size
	TCPUntracked             uint64 // TCP connections seen without a table entry: table full
	UDPTableFull             uint64 // UDP datagrams not counted: flow table full
	HotListFull              uint64 // times a connection could not join the hot list (its news waited for the next sweep)
	EventsLost               uint64 // close records that found the ring buffer full (kept in the table instead)
	ClosesInferred           uint64 // closes the kernel skipped, found when the socket was released (bpf/iter.h)
	DropsUnattributed        uint64 // dropped packets no tracked flow could take (drops.go)
	KprobeRunsSkipped        uint64 // runs of the send/receive kprobes the kernel skipped (realtime.go): those calls are not counted
}

// Stats reads the kernel's counters.
func (s *Source) Stats() (Stats, error) {
	st := Stats{
		TCPUntracked: s.tcp.untrackedSeen,
		TCPTableSize: uint64(s.objs.TcpConns.MaxEntries()), UDPTableSize: uint64(s.objs.UdpFlows.MaxEntries()),
	}
	var tcpAdded, tcpDeleted, udpAdded uint64
	err := errors.Join(
		s.objs.UdpTableFull.Get(&st.UDPTableFull),
		s.objs.HotFull.Get(&st.HotListFull),
		s.objs.EventsLost.Get(&st.EventsLost),
		s.objs.ClosesInferred.Get(&st.ClosesInferred),
		s.objs.TcpAdded.Get(&tcpAdded),
		s.objs.TcpDeleted.Get(&tcpDeleted),
		s.objs.UdpAdded.Get(&udpAdded),
	)
	st.KprobeRunsSkipped = s.kprobeRunsSkipped()
	st.DropsUnattributed = s.drops.unattributed
	st.TCPEntries = tcpAdded - tcpDeleted - s.tcp.deleted
	st.UDPEntries = udpAdded - s.udp.deleted
	return st, err
}

// Snapshot returns the flows that may have changed since the previous
// call, with lifetime counters, and the time they were read: Read,
// collected, one observation per flow (the last). Its slice is reused by
// the next call. For tests only: tcptop reads with Read, which never holds
// a read whole.
func (s *Source) Snapshot() (conn.Snapshot, error) {
	s.obs = s.obs[:0]
	clear(s.tcp.index)
	t, err := s.Read(func(o *conn.Observation) {
		if o.Proto != conn.TCP {
			s.obs = append(s.obs, *o)
		} else if i, ok := s.tcp.index[o.ID.Cookie]; ok {
			s.obs[i] = *o
		} else {
			s.tcp.index[o.ID.Cookie] = len(s.obs)
			s.obs = append(s.obs, *o)
		}
	})
	return conn.Snapshot{Time: t, Obs: s.obs}, err
}

// Read reads the flows that may have changed since the previous call and
// hands each to fn as it is read, so that a tick that reads every flow
// (the first) never holds them all at once; it returns the time they
// were read. A flow may be handed over more than once in a call: the last
// is the latest. fn must not keep the pointer: the observation is reused.
//
// Order matters. The sweep (every SweepEvery, and at the first tick)
// reads every socket; then the owner lookup reports what it found; then
// the hot list is read, the freshest view of what moved; then the ring
// buffer, whose close records come after any live observation of the same
// connection in this call. A connection is never taken for closed for
// being missing from a read: a close comes only from the kernel.
func (s *Source) Read(fn func(*conn.Observation)) (time.Time, error) {
	s.out = fn
	defer func() { s.out = nil }()
	if s.realtime {
		// Taken at start already; should it fail now (capabilities
		// dropped since), the tick runs as before and says so once.
		if leave, err := enterRealtime(); err != nil {
			s.warnOnce(fmt.Errorf("%s: %w: %s", realtimePart, err, realtimeRefusedLoss))
		} else {
			defer leave()
		}
	}
	if err := s.setTick(s.tick + 1); err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	// First: the observations of the reads below carry the drops.
	errs := []error{s.readDrops()}
	switch first := s.lastSweep.IsZero(); {
	case first:
		// Every namespace, to find the connections older than tcptop.
		s.lastSweep = now
		s.tcp.firstSweep = true
		if s.iters.sweep != nil {
			errs = append(errs, s.readIter(s.iters.sweep, "sweep", s.addRecord))
		}
		for _, rd := range s.iters.elsewhere {
			errs = append(errs, s.readFrom(rd, "sweep of another network namespace", s.addRecord))
		}
		s.iters.elsewhere = nil
		s.tcp.firstSweep = false
	case s.forceScan || now.Sub(s.lastSweep) >= s.cfg.SweepEvery:
		// Every connection in the table, for counters that moved without
		// a call; and, while the table is full, every socket of this
		// namespace, for those it cannot hold.
		s.lastSweep = now
		errs = append(errs, s.readMap(s.iters.refresh, s.addRecord))
		if (len(s.tcp.untracked) > 0 || s.iters.refresh.none()) && s.iters.sweep != nil {
			errs = append(errs, s.readIter(s.iters.sweep, "sweep", s.addRecord))
		}
	}
	s.findOwners()
	errs = append(errs, s.readHot())
	if s.forceScan {
		s.forceScan = false
		errs = append(errs, s.scanClosed())
	}
	errs = append(errs, s.drainCloses())
	errs = append(errs, s.reportDropped())
	errs = append(errs, s.readUDP())
	s.forgetUDPDrops()
	// Last: every answer received before the flows were read is in
	// the cache when the tick's new flows are named (agg, at End).
	errs = append(errs, s.syncDNS())
	s.checkOverflow()
	// A failed read loses news for this tick, not connections: what was
	// read is still reported, the next tick reads again, and the user is
	// told once.
	if err := errors.Join(errs...); err != nil {
		s.warnOnce(err)
	}
	return time.Now(), nil
}

// warnOnce reports a failed read the first time it happens.
func (s *Source) warnOnce(err error) {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	if s.warned == nil {
		s.warned = map[string]bool{}
	}
	if !s.warned[msg] {
		s.warned[msg] = true
		s.cfg.Warn("%s (tcptop keeps running; connections are not taken for closed)", msg)
	}
}

// setTick tells the programs which tick is being read. Ticks start at 1:
// a connection whose hot_tick is 0 has never joined the hot list.
func (s *Source) setTick(t uint32) error {
	if err := s.objs.Tick.Set(t); err != nil {
		return fmt.Errorf("set tick: %w", err)
	}
	s.tick = t
	return nil
}

// checkOverflow notices the hot list overflowing: news of some
// connections then waits for the next sweep, which it brings forward, and
// a closed connection kept in the table may not be on the list.
func (s *Source) checkOverflow() {
	var hotFull uint64
	if s.objs.HotFull.Get(&hotFull) == nil && hotFull > s.last.HotListFull {
		s.forceScan = true
		s.last.HotListFull = hotFull
	}
}
