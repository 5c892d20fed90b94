package source

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// ErrPermission is returned when the process may not load BPF programs.
var ErrPermission = errors.New("permission denied loading eBPF programs: run as root or grant CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (e.g. sudo setcap cap_bpf,cap_perfmon,cap_net_admin,cap_sys_ptrace+ep tcptop)")

// ErrKernel is wrapped by errors about a kernel that lacks a feature
// tcptop needs.
var ErrKernel = errors.New("kernel lacks a required feature")

const (
	capPerfmon = 38
	capBPF     = 39
)

// checkPrivileges fails early, before anything is loaded, when the
// process lacks the capabilities to load and attach tracing programs.
func checkPrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil // cannot tell; loading will say
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(unix.CAP_SYS_ADMIN) || (has(capBPF) && has(capPerfmon)) {
		return nil
	}
	return ErrPermission
}

// kernelBTFPath is where the running kernel describes its types. CO-RE
// and every hook path need it.
const kernelBTFPath = "/sys/kernel/btf/vmlinux"

func loadKernelBTF(path string) (*btf.Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: no kernel BTF at %s (a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed)", ErrKernel, path)
	}
	defer f.Close()
	spec, err := btf.LoadSpecFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("%w: unreadable kernel BTF at %s: %v", ErrKernel, path, err)
	}
	if !kernelHas(spec, stateHook) {
		return nil, fmt.Errorf("%w: tracepoint inet_sock_set_state not in kernel BTF (needs Linux 4.16+ with BTF)", ErrKernel)
	}
	return spec, nil
}

// errNotPermitted wraps ErrPermission without its advice: with the
// capabilities checked, a refusal usually means the kernel blocks that
// kind of program (function tracing under lockdown, for example).
type errNotPermitted struct{ err error }

func (e errNotPermitted) Error() string        { return "not permitted: " + e.err.Error() }
func (e errNotPermitted) Is(target error) bool { return target == ErrPermission }
func (e errNotPermitted) Unwrap() error        { return e.err }

func explainLoadError(err error) error {
	// The verifier reports a rejected program with EACCES too: look for
	// its log first, so a too-old kernel is not taken for a refusal.
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("verifier rejected the programs: %v", ve)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return errNotPermitted{err}
	}
	return fmt.Errorf("load eBPF programs: %w", err)
}

// tryPath loads the programs of one hook path and attaches them. On error
// the caller detaches whatever was attached.
func (s *Source) tryPath(kernel *btf.Spec, path string) error {
	hooks, err := selectHooks(kernel, path)
	if err != nil {
		return err
	}
	cookieHelper := path != HooksKprobe && cookieHelperAvailable()
	if err := s.load(append(hooks, stateHook), cookieHelper); err != nil {
		if path == HooksFexit && errors.Is(err, ErrPermission) {
			return fmt.Errorf("loading fexit programs refused although tcptop has CAP_BPF and CAP_PERFMON: function tracing is blocked on this kernel: %w", err)
		}
		return err
	}
	for _, h := range append([]hook{stateHook}, hooks...) {
		l, smallPool, err := attachHook(s.progs.Programs[h.prog], h)
		if err != nil {
			return explainAttach(h, err)
		}
		if smallPool != nil && !s.smallPool {
			s.smallPool = true
			s.gap("exact bytes while more socket calls wait in the kernel at once than the default kretprobe pool holds (threads blocked in recv(), say): a pool of %d needs tracefs (%v)", retprobeMaxActive, smallPool)
		}
		s.links = append(s.links, l)
		s.hooks = append(s.hooks, h.String())
	}
	s.path = path
	s.attachCgroup(cookieHelper)
	return nil
}

// load builds the collection for the given hooks plus the cgroup programs.
func (s *Source) load(hooks []hook, cookieHelper bool) error {
	spec, err := loadTcptop()
	if err != nil {
		return fmt.Errorf("read embedded eBPF object: %w", err)
	}
	for name, size := range map[string]uint32{
		"tcp_conns": s.cfg.TCPTableSize, "udp_flows": s.cfg.UDPTableSize, "events": s.cfg.EventBufferBytes,
	} {
		if size > 0 {
			spec.Maps[name].MaxEntries = size
		}
	}
	if err := spec.Variables["cookie_helper"].Set(cookieHelper); err != nil {
		return fmt.Errorf("configure eBPF object: %w", err)
	}
	keep := map[string]bool{}
	for _, h := range hooks {
		keep[h.prog] = true
	}
	for _, c := range cgroupHooks(cookieHelper) {
		keep[c.prog] = true
	}
	for name := range spec.Programs {
		if !keep[name] {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return explainLoadError(err)
	}
	s.progs = coll
	return coll.Assign(&s.objs)
}

func (h hook) String() string {
	switch {
	case h.prog == "tcptop_send" || h.prog == "tcptop_recv" || h == stateHook:
		return "tp_btf/" + h.target
	case h.kind == kprobe:
		return "kprobe/" + h.target
	case h.kind == kretprobe:
		return "kretprobe/" + h.target
	}
	return "fexit/" + h.target
}

// attachCgroup attaches the UDP peer hooks and, where tracing programs
// cannot ask for socket cookies, the cookie generators. Without them
// tcptop still runs and says what is missing.
func (s *Source) attachCgroup(cookieHelper bool) {
	path := s.cfg.CgroupPath
	if path == "" {
		var err error
		if path, err = cgroup2Mount(); err != nil {
			s.gap("remote_addr/remote_port of unconnected UDP sockets (%v)", err)
			return
		}
	}
	for _, c := range cgroupHooks(cookieHelper) {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: c.attach, Program: s.progs.Programs[c.prog]})
		if err != nil {
			s.gap("%s at %s: %v", c.name, path, err)
			continue
		}
		s.links = append(s.links, l)
		s.hooks = append(s.hooks, c.name+"@"+path)
	}
}

// cgroupHooks are the cgroup programs a path needs.
func cgroupHooks(cookieHelper bool) []cgroupHook {
	if cookieHelper {
		return peerHooks
	}
	return append(append([]cgroupHook(nil), peerHooks...), cookieHooks...)
}

// gap records and reports something this setup cannot provide.
func (s *Source) gap(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.gaps = append(s.gaps, msg)
	s.cfg.Warn("not available: %s", msg)
}

// cgroup2Mount finds the cgroup v2 hierarchy: /sys/fs/cgroup on unified
// systems, /sys/fs/cgroup/unified on hybrid ones.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[2] == "cgroup2" {
			return fields[1], nil
		}
	}
	return "", errors.New("no cgroup2 filesystem mounted")
}
