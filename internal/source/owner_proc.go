package source

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// owner is the process that holds a socket open, with what the kernel's
// hooks take with its pid: its real user id and its cgroup v2.
type owner struct {
	pid      uint32
	uid      uint32
	cgroupID uint64 // 0 if unknown
	comm     string
	replaces uint32 // the owner that exited, whose pid the kernel table still names (0: none)
}

// ownersByInode scans /proc/*/fd once for the given socket inodes, the way
// ss -p does. It is used only for sockets no hook has attributed (those
// that predate tcptop, or were accepted but not yet read or written) on
// kernels without the task_file iterator (before 5.11). cgroupRoot is
// where the cgroup v2 hierarchy is mounted, "" if it is not: a cgroup's
// id is the inode number of its directory there.
func ownersByInode(procRoot, cgroupRoot string, want map[uint32]bool) map[uint32]owner {
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
				found[uint32(ino)] = procOwner(procRoot, cgroupRoot, p.Name(), uint32(pid))
			}
		}
		if len(found) == len(want) {
			break
		}
	}
	return found
}

// procOwner reads what /proc says of process pid: name, real uid, and
// cgroup v2 id.
func procOwner(procRoot, cgroupRoot, dir string, pid uint32) owner {
	o := owner{pid: pid, comm: readComm(procRoot, dir)}
	if b, err := os.ReadFile(procRoot + "/" + dir + "/status"); err == nil {
		o.uid, _ = statusUID(b)
	}
	if cgroupRoot != "" {
		if b, err := os.ReadFile(procRoot + "/" + dir + "/cgroup"); err == nil {
			if path, ok := unifiedCgroup(b); ok {
				var st unix.Stat_t
				if unix.Stat(cgroupRoot+path, &st) == nil {
					o.cgroupID = st.Ino
				}
			}
		}
	}
	return o
}

// statusUID is the real user id on the Uid: line of /proc/PID/status
// ("Uid:\treal\teffective\tsaved\tfs"), as bpf_get_current_uid_gid gives.
func statusUID(status []byte) (uint32, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "Uid:" {
			u, err := strconv.ParseUint(f[1], 10, 32)
			return uint32(u), err == nil
		}
	}
	return 0, false
}

// unifiedCgroup is the cgroup v2 path in /proc/PID/cgroup: the "0::/path"
// line (a hybrid host also lists v1 hierarchies).
func unifiedCgroup(b []byte) (string, bool) {
	for line := range strings.SplitSeq(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(path, "/") {
			return path, true
		}
	}
	return "", false
}

// readComm reads a process name, raw as the kernel's are (the writers
// escape it).
func readComm(procRoot, pid string) string {
	b, err := os.ReadFile(procRoot + "/" + pid + "/comm")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSuffix(b, []byte("\n")))
}
