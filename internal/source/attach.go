package source

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/privs"
)

// ErrPermission is returned when the process may not load BPF programs.
var ErrPermission = errors.New("permission denied loading eBPF programs: run as root, or grant CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep tcptop)")

// errMissingCaps names the capabilities the process lacks, and is an
// ErrPermission.
type errMissingCaps []privs.Cap

func (e errMissingCaps) Error() string {
	names := make([]string, len(e))
	for i, c := range e {
		names[i] = c.String()
	}
	return fmt.Sprintf("missing %s: run as root, or grant CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep tcptop)", strings.Join(names, " and "))
}
func (e errMissingCaps) Is(target error) bool { return target == ErrPermission }

// ErrKernel is wrapped by errors about a kernel that lacks a feature
// tcptop needs.
var ErrKernel = errors.New("kernel lacks a required feature")

// checkPrivileges fails early, before anything is loaded, when the
// process lacks the capabilities to load and attach tracing programs.
// When the kernel will not say, loading will.
func checkPrivileges() error {
	if len(privs.Missing(privs.SysAdmin)) == 0 {
		return nil // CAP_BPF and CAP_PERFMON are split out of it since 5.8
	}
	if missing := privs.Missing(privs.BPF, privs.Perfmon); len(missing) > 0 {
		return errMissingCaps(missing)
	}
	return nil
}

// kernelBTFPath is where the running kernel describes its types. CO-RE
// and every hook path need it.
const kernelBTFPath = "/sys/kernel/btf/vmlinux"

// loadKernelBTF reads the kernel's types through cache, which the loads
// of the programs share: the kernel's BTF is parsed once.
func loadKernelBTF(path string, cache *btf.Cache) (*btf.Spec, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: no kernel BTF at %s (a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed)", ErrKernel, path)
	}
	spec, err := cache.Kernel()
	if err != nil {
		return nil, fmt.Errorf("%w: unreadable kernel BTF at %s: %v", ErrKernel, path, err)
	}
	for _, h := range lifecycleHooks {
		if !kernelHas(spec, h) && !h.optional {
			return nil, fmt.Errorf("%w: tracepoint %s not in kernel BTF (needs Linux 5.9+ with BTF)", ErrKernel, h.target)
		}
	}
	var iter *btf.Struct
	if spec.TypeByName("bpf_iter__tcp", &iter) != nil {
		return nil, fmt.Errorf("%w: no BPF iterator over TCP sockets (iter/tcp needs Linux 5.9+)", ErrKernel)
	}
	return spec, nil
}

// errNotPermitted wraps ErrPermission without its advice: with the
// capabilities checked, a refusal usually means the kernel blocks that
// kind of program (function tracing under lockdown, for example). It
// says which program was refused and how (describeRefusal).
type errNotPermitted struct {
	what string
	err  error
}

func (e errNotPermitted) Error() string        { return "refused: " + e.what }
func (e errNotPermitted) Is(target error) bool { return target == ErrPermission }
func (e errNotPermitted) Unwrap() error        { return e.err }

// programInError finds the program cilium/ebpf names in a collection's
// load error ("program tcptop_send: load program: ...").
var programInError = regexp.MustCompile(`program (tcptop_[a-z0-9_]+)`)

// explainLoadError names the refused program of spec, its kind, the
// kernel's errno and the verifier's last line.
func explainLoadError(spec *ebpf.CollectionSpec, err error) error {
	name, kind := "programs", "?"
	if m := programInError.FindStringSubmatch(err.Error()); m != nil {
		name = m[1]
		if p := spec.Programs[name]; p != nil {
			kind = p.SectionName
		}
	}
	what := describeRefusal(name, kind, err)
	// The verifier reports a rejected program with EACCES too: look for
	// its log first, so a too-old kernel is not taken for a refusal.
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("verifier rejected %s", what)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return errNotPermitted{what, err}
	}
	return fmt.Errorf("load %s", what)
}

// tryPath loads the send/receive programs of one hook path and attaches
// them; then every other part, each on its own (a refusal there costs that
// part, not the path). On error the caller detaches whatever was attached.
func (s *Source) tryPath(kernel *btf.Spec, path string) error {
	hooks, err := selectHooks(kernel, path)
	if err != nil {
		return err
	}
	pairs := s.wantPairs(path)
	if !pairs {
		hooks = firstsOnly(hooks)
	}
	cookieHelper := path != HooksKprobe && cookieHelperAvailable()
	spec, err := s.spec(path, cookieHelper, pairs)
	if err != nil {
		return err
	}
	if err := s.configureDrops(spec, kernel); err != nil {
		return err
	}
	if err := s.load(spec, hooks); err != nil {
		if path == HooksFexit && errors.Is(err, ErrPermission) {
			return fmt.Errorf("loading fexit programs refused although tcptop has CAP_BPF and CAP_PERFMON: function tracing is blocked on this kernel: %w", err)
		}
		return err
	}
	for _, h := range hooks {
		if err := s.attach(s.progs.Programs[h.prog], h); err != nil {
			return err
		}
	}
	s.path = path
	s.notePairs(pairs)
	s.noteRealtime()
	s.noteRingbuf()
	s.attachLifecycle(spec, kernel)
	s.attachDrops(spec, kernel)
	s.attachReads(spec)
	s.attachCgroup(spec, cookieHelper)
	s.attachDNS(spec)
	s.loadOwners(spec)
	return nil
}

// attach attaches one hook's program and records it.
func (s *Source) attach(prog *ebpf.Program, h hook) error {
	l, smallPool, err := attachHook(prog, h)
	if err != nil {
		return explainAttach(h, err)
	}
	if smallPool != nil && !s.smallPool {
		s.smallPool = true
		s.gap("exact bytes while more socket calls wait in the kernel at once than the default kretprobe pool holds (threads blocked in recv(), say): a pool of %d needs tracefs (%v)", retprobeMaxActive, smallPool)
	}
	s.links = append(s.links, l)
	s.hooks = append(s.hooks, h.String())
	return nil
}

// spec reads the embedded object, sizes its maps for this path and sets
// its switches.
func (s *Source) spec(path string, cookieHelper, pairs bool) (*ebpf.CollectionSpec, error) {
	spec, err := loadTcptop()
	if err != nil {
		return nil, fmt.Errorf("read embedded eBPF object: %w", err)
	}
	// The tables grow with live connections (allocated on insert), except
	// under kprobes, whose programs may only use preallocated hash maps on
	// kernels before 6.1: there they are preallocated, and smaller.
	prealloc := path == HooksKprobe
	sizes := map[string]uint32{
		tcptopMapTcpConns: s.cfg.TCPTableSize, tcptopMapUdpFlows: s.cfg.UDPTableSize,
		tcptopMapHot: s.cfg.HotListSize, tcptopMapEvents: s.cfg.EventBufferBytes,
	}
	if prealloc && sizes[tcptopMapTcpConns] == 0 {
		sizes[tcptopMapTcpConns] = 65536
	}
	sizes[tcptopMapWanted] = max(sizes[tcptopMapTcpConns], spec.Maps[tcptopMapTcpConns].MaxEntries)
	if prealloc && sizes[tcptopMapUdpFlows] == 0 {
		sizes[tcptopMapUdpFlows] = 32768
	}
	if prealloc && sizes[tcptopMapHot] == 0 {
		sizes[tcptopMapHot] = 65536
	}
	for name, size := range sizes {
		if size > 0 {
			spec.Maps[name].MaxEntries = size
		}
	}
	for _, name := range []string{tcptopMapTcpConns, tcptopMapUdpFlows, tcptopMapHot, tcptopMapWanted} {
		if !prealloc || name == tcptopMapWanted {
			spec.Maps[name].Flags |= unix.BPF_F_NO_PREALLOC
		}
	}
	if err := spec.Variables[tcptopVarCookieHelper].Set(cookieHelper); err != nil {
		return nil, fmt.Errorf("configure eBPF object: %w", err)
	}
	if err := spec.Variables[tcptopVarIoPairs].Set(pairs); err != nil {
		return nil, fmt.Errorf("configure eBPF object: %w", err)
	}
	if err := spec.Variables[tcptopVarReleasesMissed].Set(s.cfg.missReleases); err != nil {
		return nil, fmt.Errorf("configure eBPF object: %w", err)
	}
	if err := spec.Variables[tcptopVarReceivesLost].Set(s.cfg.loseReceives); err != nil {
		return nil, fmt.Errorf("configure eBPF object: %w", err)
	}
	if !pairs {
		// Unused, but the programs still name it: an LRU hash is
		// preallocated, and 65,536 entries are 5 MB of kernel memory.
		spec.Maps[tcptopMapIoClaims].MaxEntries = 1
	}
	if err := s.ringbufOrStandIn(spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// load builds the collection of the send/receive programs of a path,
// which creates every map. The rest is loaded on its own
// (loadSeparately), so that what a kernel or a capability set lacks costs
// only that part.
func (s *Source) load(spec *ebpf.CollectionSpec, hooks []hook) error {
	keep := map[string]bool{}
	for _, h := range hooks {
		keep[h.prog] = true
	}
	core := spec.Copy()
	for name := range core.Programs {
		if !keep[name] {
			delete(core.Programs, name)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(core, ebpf.CollectionOptions{Cache: s.btfCache})
	if err != nil {
		return explainLoadError(spec, err)
	}
	s.progs = coll
	// Assign takes the named maps out of the collection into s.objs (the
	// data sections behind the variables stay): s.maps keeps every one by
	// name for the parts loaded on their own.
	s.maps = maps.Clone(coll.Maps)
	return coll.Assign(&s.objs)
}

// loadSeparately loads the named programs of spec sharing the maps of the
// loaded collection.
func (s *Source) loadSeparately(spec *ebpf.CollectionSpec, names ...string) (*ebpf.Collection, error) {
	part := spec.Copy()
	for name := range part.Programs {
		if !slices.Contains(names, name) {
			delete(part.Programs, name)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(part, ebpf.CollectionOptions{MapReplacements: s.allMaps(part), Cache: s.btfCache})
	if err != nil {
		return nil, err
	}
	s.extra = append(s.extra, coll)
	return coll, nil
}

// loadOwners loads and attaches the owner iterator, which needs
// bpf_sock_from_file (5.11+). Without it, owners come from /proc.
func (s *Source) loadOwners(spec *ebpf.CollectionSpec) {
	p := Part{Name: "owners of idle connections", Using: KindTaskIter}
	it, err := s.ownerIter(spec)
	if err == nil {
		s.iters.owners = it
		s.part(p)
		s.hooks = append(s.hooks, KindTaskIter)
		return
	}
	p.Using, p.Fallback, p.Same = "/proc/PID/fd", true, true
	p.Refused = []string{s.refusal(KindTaskIter, tcptopProgTcptopOwners, err)}
	p.Loss = "a non-root tcptop needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to read other users' /proc/PID/fd"
	s.part(p)
	s.hooks = append(s.hooks, "owners from /proc")
}

// ownerIter loads the owner iterator, unless a test asked for /proc.
func (s *Source) ownerIter(spec *ebpf.CollectionSpec) (*link.Iter, error) {
	if s.cfg.ownersFromProc {
		return nil, errRefusedOnPurpose
	}
	return s.loadIter(spec, tcptopProgTcptopOwners, KindTaskIter, nil)
}

// allMaps names every map of the loaded collection that spec uses, so
// that a program loaded on its own shares them.
func (s *Source) allMaps(spec *ebpf.CollectionSpec) map[string]*ebpf.Map {
	all := map[string]*ebpf.Map{}
	for name, m := range s.maps {
		if _, used := spec.Maps[name]; used {
			all[name] = m
		}
	}
	return all
}

// oneLine keeps the first line of a (verifier) error.
func oneLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func (h hook) String() string {
	switch {
	case h.tracepoint:
		return "tp_btf/" + h.target
	case h.kind == kprobe:
		return "kprobe/" + h.target
	case h.kind == kretprobe:
		return "kretprobe/" + h.target
	}
	return "fexit/" + h.target
}

// gap records and reports something this setup cannot provide.
func (s *Source) gap(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.gaps = append(s.gaps, msg)
	s.cfg.Warn("not available: %s", msg)
}
