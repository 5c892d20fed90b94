package source

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// diagSock is what sock_diag (the netlink interface behind ss) reports for
// one TCP socket: the kernel's current counters, read at tick time so that
// packets and rtt agree with `ss -ti` at the same moment even when no
// process has touched the socket since.
type diagSock struct {
	tuple   tcptopFlowTuple
	state   uint8
	inode   uint32
	segsIn  uint32
	segsOut uint32
	rttUs   uint32
	retrans uint32
}

// dumpAttempts bounds the retries of a dump that sockets opening or
// closing meanwhile made inconsistent. A socket missing from an
// inconsistent dump would look gone, and a connection known only from
// sock_diag would be reported closed.
const dumpAttempts = 4

// dumpTCP lists every TCP socket of both families by cookie. The cookie
// is the one bpf_get_socket_cookie returns, which ties the two views.
func dumpTCP(into map[uint64]diagSock) error {
	clear(into)
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		var socks []*netlink.InetDiagTCPInfoResp
		var err error = netlink.ErrDumpInterrupted
		for try := 0; try < dumpAttempts && errors.Is(err, netlink.ErrDumpInterrupted); try++ {
			socks, err = netlink.SocketDiagTCPInfo(fam)
		}
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return fmt.Errorf("sock_diag dump: %w", err)
		}
		for _, s := range socks {
			if s.InetDiagMsg == nil {
				continue
			}
			m := s.InetDiagMsg
			cookie := uint64(m.ID.Cookie[1])<<32 | uint64(m.ID.Cookie[0])
			d := diagSock{state: m.State, inode: m.INode}
			d.tuple.Family = uint16(m.Family)
			d.tuple.Sport, d.tuple.Dport = m.ID.SourcePort, m.ID.DestinationPort
			copyIP(d.tuple.Saddr[:], m.ID.Source, m.Family)
			copyIP(d.tuple.Daddr[:], m.ID.Destination, m.Family)
			if ti := s.TCPInfo; ti != nil {
				d.segsIn, d.segsOut, d.rttUs, d.retrans = ti.Segs_in, ti.Segs_out, ti.Rtt, ti.Total_retrans
			}
			into[cookie] = d
		}
	}
	return nil
}

func copyIP(dst []byte, ip []byte, family uint8) {
	if family == unix.AF_INET {
		if v4 := ipTo4(ip); v4 != nil {
			copy(dst, v4)
		}
		return
	}
	copy(dst, ip)
}

func ipTo4(ip []byte) []byte {
	switch len(ip) {
	case 4:
		return ip
	case 16:
		return ip[12:16]
	}
	return nil
}

// owner is the process that holds a socket open.
type owner struct {
	pid  uint32
	comm string
}

// ownersByInode scans /proc/*/fd once for the given socket inodes, the way
// ss -p does. It is used only for sockets no hook has attributed: those
// that predate tcptop, or were accepted but not yet read or written.
func ownersByInode(procRoot string, want map[uint32]bool) map[uint32]owner {
	found := make(map[uint32]owner, len(want))
	procs, err := os.ReadDir(procRoot)
	if err != nil {
		return found
	}
	for _, p := range procs {
		pid, err := strconv.ParseUint(p.Name(), 10, 32)
		if err != nil {
			continue
		}
		fdDir := procRoot + "/" + p.Name() + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(fdDir + "/" + fd.Name())
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(link[len("socket:["):], "]"), 10, 32)
			if err != nil || !want[uint32(ino)] {
				continue
			}
			if _, dup := found[uint32(ino)]; !dup {
				found[uint32(ino)] = owner{pid: uint32(pid), comm: readComm(procRoot, p.Name())}
			}
		}
		if len(found) == len(want) {
			break
		}
	}
	return found
}

func readComm(procRoot, pid string) string {
	b, err := os.ReadFile(procRoot + "/" + pid + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
