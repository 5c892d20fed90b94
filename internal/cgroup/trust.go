package cgroup

import (
	"strings"
	"syscall"
)

// delegated reports whether a cgroup's directory lets someone other than
// the owner of the hierarchy's root name the cgroups in it: it is owned
// by another user (systemd chowns what it delegates to a user), writable
// by group or others, or marked as delegated. systemd sets
// trusted.delegate (and, from v251, user.delegate) on the cgroup of a
// unit with Delegate=yes; trusted.* reads as absent without
// CAP_SYS_ADMIN, which tcptop has dropped by the time it walks, so the
// owner is what is relied on and the marks add the delegations to root's
// own services.
func delegated(dir string, st *syscall.Stat_t, rootUID uint32) bool {
	if st.Uid != rootUID || st.Mode&0o022 != 0 {
		return true
	}
	return marked(dir)
}

// marked reports whether dir has a delegation mark that does not say
// no. It lists the attributes first: one system call for the cgroups
// that have none, nearly all of them.
func marked(dir string) bool {
	var list [128]byte
	n, err := syscall.Listxattr(dir, list[:])
	if err == nil && !strings.Contains(string(list[:n]), "delegate") {
		return false
	}
	var v [16]byte
	for _, name := range []string{"user.delegate", "trusted.delegate"} {
		n, err := syscall.Getxattr(dir, name, v[:])
		if err == nil && !isFalse(string(v[:n])) || err == syscall.ERANGE {
			return true
		}
	}
	return false
}

// isFalse reads a systemd boolean: a mark saying "0" is no delegation.
func isFalse(v string) bool {
	switch v {
	case "0", "no", "false", "n", "off":
		return true
	}
	return false
}
