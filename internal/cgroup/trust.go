package cgroup

import "syscall"

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
	buf := make([]byte, 16)
	for _, name := range []string{"user.delegate", "trusted.delegate"} {
		n, err := syscall.Getxattr(dir, name, buf)
		if err == nil && !isFalse(string(buf[:n])) || err == syscall.ERANGE {
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
