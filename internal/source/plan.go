package source

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Hook paths for send/receive accounting, in order of preference. All
// yield the same counters with the same meaning; docs/design.md has the
// kernel matrix.
const (
	HooksAuto       = "auto"
	HooksTracepoint = "tracepoint" // tp_btf/sock_{send,recv}_length, Linux 6.4+
	HooksFexit      = "fexit"      // fexit on inet{,6}_{send,recv}msg, 5.5+ with BTF
	HooksKprobe     = "kprobe"     // kprobe+kretprobe on the same functions
)

// HookPaths lists the accepted values of Config.Hooks.
func HookPaths() []string {
	return []string{HooksAuto, HooksTracepoint, HooksFexit, HooksKprobe}
}

type hookKind int

const (
	tracing hookKind = iota // tp_btf and fexit: attach target fixed at load
	kprobe
	kretprobe
)

// hook is one program of a path and where it attaches.
type hook struct {
	prog       string // a program of bpf/, by its bpf2go constant (tcptopProg...)
	kind       hookKind
	target     string // kernel function or tracepoint
	tracepoint bool   // target is a tracepoint (tp_btf), not a function
	optional   bool   // absent on some kernels without loss (inet_sendpage, gone in 6.5)
	second     bool   // the second program of a send/receive pair (name_again)
}

// plans are the send/receive hooks of each path.
var plans = map[string][]hook{
	// In pairs: the second program of each counts what the kernel
	// skipped of the first (bpf/tcptop.bpf.c, io_claims), so the first
	// must run first. Where the kernel cannot preempt them, the first
	// alone (firstsOnly). A tracepoint runs its programs in the order they
	// were attached; a trampoline (fexit) the newest first.
	HooksTracepoint: {
		{prog: tcptopProgTcptopSend, target: "sock_send_length", tracepoint: true},
		{prog: tcptopProgTcptopSendAgain, target: "sock_send_length", tracepoint: true, second: true},
		{prog: tcptopProgTcptopRecv, target: "sock_recv_length", tracepoint: true},
		{prog: tcptopProgTcptopRecvAgain, target: "sock_recv_length", tracepoint: true, second: true},
	},
	HooksFexit: {
		{prog: tcptopProgTcptopFxSend4Again, target: "inet_sendmsg", second: true},
		{prog: tcptopProgTcptopFxSend4, target: "inet_sendmsg"},
		{prog: tcptopProgTcptopFxSend6Again, target: "inet6_sendmsg", second: true},
		{prog: tcptopProgTcptopFxSend6, target: "inet6_sendmsg"},
		{prog: tcptopProgTcptopFxRecv4Again, target: "inet_recvmsg", second: true},
		{prog: tcptopProgTcptopFxRecv4, target: "inet_recvmsg"},
		{prog: tcptopProgTcptopFxRecv6Again, target: "inet6_recvmsg", second: true},
		{prog: tcptopProgTcptopFxRecv6, target: "inet6_recvmsg"},
		{prog: tcptopProgTcptopFxPageAgain, target: "inet_sendpage", optional: true, second: true},
		{prog: tcptopProgTcptopFxPage, target: "inet_sendpage", optional: true},
	},
	HooksKprobe: {
		{prog: tcptopProgTcptopKpSend4, kind: kprobe, target: "inet_sendmsg"},
		{prog: tcptopProgTcptopKrSend4, kind: kretprobe, target: "inet_sendmsg"},
		{prog: tcptopProgTcptopKpSend6, kind: kprobe, target: "inet6_sendmsg"},
		{prog: tcptopProgTcptopKrSend6, kind: kretprobe, target: "inet6_sendmsg"},
		{prog: tcptopProgTcptopKpRecv4, kind: kprobe, target: "inet_recvmsg"},
		{prog: tcptopProgTcptopKrRecv4, kind: kretprobe, target: "inet_recvmsg"},
		{prog: tcptopProgTcptopKpRecv6, kind: kprobe, target: "inet6_recvmsg"},
		{prog: tcptopProgTcptopKrRecv6, kind: kretprobe, target: "inet6_recvmsg"},
		{prog: tcptopProgTcptopKpPage, kind: kprobe, target: "inet_sendpage", optional: true},
		{prog: tcptopProgTcptopKrPage, kind: kretprobe, target: "inet_sendpage", optional: true},
	},
}

// firstsOnly drops the second program of each send/receive pair, where
// the kernel cannot skip the first (preempt.go).
func firstsOnly(hooks []hook) []hook {
	var out []hook
	for _, h := range hooks {
		if !h.second {
			out = append(out, h)
		}
	}
	return out
}

// kprobePMU exists when the kernel can create kprobes through perf (4.17+).
const kprobePMU = "/sys/bus/event_source/devices/kprobe"

// lifecycleHooks are common to every path: TCP open and state changes,
// and the release of the socket, which is the close.
var lifecycleHooks = []hook{
	// Twice each: a state change or release that interrupts the other's
	// run on one CPU would otherwise be skipped by the kernel
	// (bpf/lifecycle.h).
	{prog: tcptopProgTcptopState, target: "inet_sock_set_state", tracepoint: true},
	{prog: tcptopProgTcptopStateAgain, target: "inet_sock_set_state", tracepoint: true},
	{prog: tcptopProgTcptopClosed, target: "tcp_destroy_sock", tracepoint: true},
	{prog: tcptopProgTcptopClosedAgain, target: "tcp_destroy_sock", tracepoint: true},
	{prog: tcptopProgTcptopRstIn, target: "tcp_receive_reset", tracepoint: true},
	{prog: tcptopProgTcptopRstOut, target: "tcp_send_reset", tracepoint: true},
	// Optional: the socket error as the kernel reports it (5.13+). Without
	// it the error is read when the connection reaches CLOSE, which an
	// application woken by the report may have cleared already.
	{prog: tcptopProgTcptopSkError, target: "inet_sk_error_report", tracepoint: true, optional: true},
	// A SYN-ACK sent again: the first one's time, for connect_us of the
	// connection accepted from it (4.15+, so on every kernel tcptop runs
	// on; optional all the same, as it only adds to one field).
	{prog: tcptopProgTcptopSynackAgain, target: "tcp_retransmit_synack", tracepoint: true, optional: true},
	// Retransmits told apart by kind (bpf/retrans.h): runs only when a
	// connection retransmits.
	{prog: tcptopProgTcptopRetrans, target: "tcp_retransmit_skb", tracepoint: true},
	// A process that owns a connection exited: the process it left the
	// socket to is looked up (owner_exit.go).
	{prog: tcptopProgTcptopExit, target: "sched_process_exit", tracepoint: true},
}

// cgroup programs: the UDP peer hooks (sockops and the cookie generator
// are added by cgroupHooks). Where each attaches (its attach type and
// section) is read from the object.
var (
	peerHooks = []string{tcptopProgTcptopSendmsg4, tcptopProgTcptopSendmsg6, tcptopProgTcptopRecvmsg4, tcptopProgTcptopRecvmsg6}
)

// pathOrder returns the paths to try for the configured choice.
func pathOrder(choice string) ([]string, error) {
	switch choice {
	case "", HooksAuto:
		return []string{HooksTracepoint, HooksFexit, HooksKprobe}, nil
	case HooksTracepoint, HooksFexit, HooksKprobe:
		return []string{choice}, nil
	}
	return nil, fmt.Errorf("unknown hook path %q (want one of %s)", choice, strings.Join(HookPaths(), ", "))
}

// kernelHas reports whether the kernel's BTF describes the target of h: a
// tracepoint (btf_trace_<name> typedef) or a function.
func kernelHas(kernel *btf.Spec, h hook) bool {
	if h.tracepoint {
		var td *btf.Typedef
		return kernel.TypeByName("btf_trace_"+h.target, &td) == nil
	}
	var fn *btf.Func
	return kernel.TypeByName(h.target, &fn) == nil
}

// selectHooks returns the hooks of path that this kernel has, or why the
// path cannot be used.
func selectHooks(kernel *btf.Spec, path string) ([]hook, error) {
	if path == HooksKprobe {
		if _, err := os.Stat(kprobePMU); err != nil {
			return nil, fmt.Errorf("kprobes not available: no kprobe PMU at %s (kernel built without CONFIG_KPROBES?)", kprobePMU)
		}
	}
	var out []hook
	for _, h := range plans[path] {
		if kernelHas(kernel, h) {
			out = append(out, h)
			continue
		}
		if h.optional {
			continue
		}
		if path == HooksTracepoint {
			return nil, fmt.Errorf("tracepoint %s not in kernel BTF (needs Linux 6.4+)", h.target)
		}
		return nil, fmt.Errorf("function %s not in kernel BTF", h.target)
	}
	return out, nil
}

// cookieHelperAvailable tells whether tracing programs may call
// bpf_get_socket_cookie: Linux 5.12 and later.
func cookieHelperAvailable() bool { return kernelAtLeast(5, 12) }

// kernelAtLeast tells whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	_, _ = fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || (ma == major && mi >= minor)
}

// retprobeMaxActive is how many calls of a kretprobed function may be in
// flight at once (the most the kernel accepts). The kernel's default pool
// is num_possible_cpus() instances without CONFIG_PREEMPTION (Debian's
// arm64 and 5.10 kernels), max(10, 2*CPUs) with it; a call beyond the pool
// is not seen returning, and its bytes are lost. Every thread blocked in
// recv() holds one for as long as it waits.
const retprobeMaxActive = 4096

// attachHook attaches one send/receive or state program. smallPool is
// set when a kretprobe got only the kernel's default pool: a larger one
// is set through tracefs, which may not be mounted or writable.
func attachHook(prog *ebpf.Program, h hook) (l link.Link, smallPool error, err error) {
	switch h.kind {
	case kprobe:
		l, err = link.Kprobe(h.target, prog, nil)
	case kretprobe:
		l, smallPool = link.Kretprobe(h.target, prog, &link.KprobeOptions{RetprobeMaxActive: retprobeMaxActive})
		if smallPool != nil {
			l, err = link.Kretprobe(h.target, prog, nil)
		}
	default:
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	}
	return l, smallPool, err
}

// explainAttach turns the errors users will meet into the missing feature.
func explainAttach(h hook, err error) error {
	kind := map[hookKind]string{tracing: "tracing", kprobe: "kprobe", kretprobe: "kretprobe"}[h.kind]
	switch {
	case errors.Is(err, ebpf.ErrNotSupported) && h.kind == tracing:
		// fexit programs load on arm64 before 6.4 but cannot attach.
		return fmt.Errorf("%s on %s: not supported by this kernel (fexit on kernel functions needs ftrace direct calls: x86-64 5.5+, arm64 6.4+): %w", kind, h.target, err)
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("%s on %s: not supported by this kernel (for kprobes: CONFIG_KPROBES): %w", kind, h.target, err)
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("%s on %s: not permitted here (function tracing blocked?): %w", kind, h.target, err)
	}
	return fmt.Errorf("%s on %s: %w", kind, h.target, err)
}
