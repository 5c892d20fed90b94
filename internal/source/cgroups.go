package source

import (
	"bufio"
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// attachCgroup loads and attaches the UDP peer hooks, sockops and, where
// tracing programs cannot ask for socket cookies, the cookie generators. They need
// CAP_NET_ADMIN besides CAP_BPF; without them tcptop still runs and says
// what is missing.
func (s *Source) attachCgroup(spec *ebpf.CollectionSpec, cookieHelper bool) {
	hooks := cgroupHooks(cookieHelper)
	// The sendmsg hooks also put down the questions of unconnected
	// resolvers (bpf/dns.h, dns_asked): without them those get no name.
	p := Part{Name: "cgroup hooks", Loss: "remote_addr/remote_port of unconnected UDP sockets, and remote_name from resolvers that do not connect their socket (musl's), and the witness of opens whose state change the state programs missed (those show as partial, without direction)"}
	if !cookieHelper {
		p.Loss += ", and connections on this kernel whose sockets were never named (no cookie)"
	}
	path := s.cfg.CgroupPath
	err := s.forced(KindCgroup)
	if err == nil && path == "" {
		path, err = cgroup2Mount()
	}
	var coll *ebpf.Collection
	if err == nil {
		coll, err = s.loadSeparately(spec, hooks...)
	}
	if err != nil {
		why := s.refusal(KindCgroup, strings.Join(hooks, "+"), err)
		if (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) && !errors.Is(err, errRefusedOnPurpose) {
			why += " (the cgroup hooks need CAP_NET_ADMIN)"
		}
		p.Refused = []string{why}
		s.part(p)
		return
	}
	var attached []string
	for _, name := range hooks {
		ps := spec.Programs[name]
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: ps.AttachType, Program: coll.Programs[name]})
		if err != nil {
			p.Refused = append(p.Refused, s.refusal(KindCgroup, name+" at "+path, err))
			continue
		}
		s.links = append(s.links, l)
		s.hooks = append(s.hooks, ps.SectionName+"@"+path)
		attached = append(attached, ps.SectionName)
	}
	if len(p.Refused) == 0 {
		p.Using = strings.Join(attached, ", ") + " at " + path
	}
	s.part(p)
}

// cgroupHooks names the cgroup programs a path needs: sockops on every
// path (it witnesses opens), the socket-creation hook where tracing
// programs cannot ask for cookies.
func cgroupHooks(cookieHelper bool) []string {
	hooks := append(slices.Clone(peerHooks), tcptopProgTcptopSockops)
	if !cookieHelper {
		hooks = append(hooks, tcptopProgTcptopSockNew)
	}
	return hooks
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
