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

// nameExistingSockets asks sock_diag (the netlink interface behind ss) to
// list every TCP socket, which makes the kernel give each one a cookie.
// Where the programs cannot ask for cookies themselves (before 5.12, and
// kprobes) they read them from the socket, so a connection older than
// tcptop needs this to be seen at all.
func nameExistingSockets() error {
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		if _, err := netlink.SocketDiagTCP(fam); err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return fmt.Errorf("sock_diag dump: %w", err)
		}
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
