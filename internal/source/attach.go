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

// tracepoints the probes need, with the kernel that introduced them.
var requiredTracepoints = []struct{ name, since string }{
	{"sock_send_length", "6.4"},
	{"sock_recv_length", "6.4"},
	{"inet_sock_set_state", "4.16"},
}

// checkKernel names the first missing feature instead of letting the
// verifier fail with a less helpful message.
func checkKernel() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("%w: no kernel BTF at /sys/kernel/btf/vmlinux (needs CONFIG_DEBUG_INFO_BTF=y): %v", ErrKernel, err)
	}
	for _, tp := range requiredTracepoints {
		var typ *btf.Typedef
		if err := spec.TypeByName("btf_trace_"+tp.name, &typ); err != nil {
			return fmt.Errorf("%w: tracepoint %s (Linux %s or newer) not found in kernel BTF", ErrKernel, tp.name, tp.since)
		}
	}
	return nil
}

func explainLoadError(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: %v", ErrPermission, err)
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("load eBPF programs: verifier rejected them (kernel too old or unsupported?): %v", ve)
	}
	return fmt.Errorf("load eBPF programs: %w", err)
}

// attach connects every program to its hook. The tracepoints are
// required; the cgroup hooks only add the peer of each datagram on
// unconnected UDP sockets, so without them tcptop warns and goes on.
func (s *Source) attach() error {
	for _, t := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"tp_btf/sock_send_length", s.objs.TcptopSend},
		{"tp_btf/sock_recv_length", s.objs.TcptopRecv},
		{"tp_btf/inet_sock_set_state", s.objs.TcptopState},
	} {
		l, err := link.AttachTracing(link.TracingOptions{Program: t.prog})
		if err != nil {
			return fmt.Errorf("attach %s: %w", t.name, err)
		}
		s.links = append(s.links, l)
		s.hooks = append(s.hooks, t.name)
	}
	return s.attachCgroup()
}

func (s *Source) attachCgroup() error {
	path := s.cfg.CgroupPath
	if path == "" {
		var err error
		if path, err = cgroup2Mount(); err != nil {
			s.cfg.Warn("UDP peers of unconnected sockets are not tracked: %v", err)
			return nil
		}
	}
	for _, c := range []struct {
		name string
		typ  ebpf.AttachType
		prog *ebpf.Program
	}{
		{"cgroup/sendmsg4", ebpf.AttachCGroupUDP4Sendmsg, s.objs.TcptopSendmsg4},
		{"cgroup/sendmsg6", ebpf.AttachCGroupUDP6Sendmsg, s.objs.TcptopSendmsg6},
		{"cgroup/recvmsg4", ebpf.AttachCGroupUDP4Recvmsg, s.objs.TcptopRecvmsg4},
		{"cgroup/recvmsg6", ebpf.AttachCGroupUDP6Recvmsg, s.objs.TcptopRecvmsg6},
	} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: c.typ, Program: c.prog})
		if err != nil {
			s.cfg.Warn("UDP peers of unconnected sockets are not tracked: attach %s to %s: %v", c.name, path, err)
			continue
		}
		s.links = append(s.links, l)
		s.hooks = append(s.hooks, c.name+"@"+path)
	}
	return nil
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
