// Package privs is tcptop's one capability module: it names the
// capabilities tcptop uses (x/sys/unix's numbers, never typed again),
// tells which the process lacks before anything is loaded (Missing), and
// gives up the privileges tcptop no longer needs once its probes are
// attached: every capability the running loop does not use
// (from the effective, permitted, inheritable, ambient and bounding sets),
// optionally the root user itself (like tcpdump -Z), and for good with
// no_new_privs, so that no later execve can gain any back.
//
// Capabilities are per thread in Linux, and a Go program has many, so
// every change is made on all of them at once (syscall.AllThreadsSyscall,
// which needs a build without cgo, as tcptop's release build is).
package privs

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Cap is a Linux capability number.
type Cap uint

// The capabilities tcptop can use.
const (
	DACReadSearch Cap = unix.CAP_DAC_READ_SEARCH
	SysPtrace     Cap = unix.CAP_SYS_PTRACE
	BPF           Cap = unix.CAP_BPF     // Linux 5.8+; before, CAP_SYS_ADMIN
	Perfmon       Cap = unix.CAP_PERFMON // Linux 5.8+; before, CAP_SYS_ADMIN
	NetAdmin      Cap = unix.CAP_NET_ADMIN
	SysAdmin      Cap = unix.CAP_SYS_ADMIN
)

// sets are a thread's capability sets as capget and capset take them:
// two 32-bit words per set.
type sets [2]unix.CapUserData

// readSets reads the calling thread's capability sets.
func readSets() (sets, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data sets
	err := unix.Capget(&hdr, &data[0])
	return data, err
}

// bit is where c sits in a set: its word, and its mask in that word.
func (c Cap) bit() (word int, mask uint32) { return int(c / 32), 1 << (c % 32) }

func (s *sets) effective(c Cap) bool {
	w, m := c.bit()
	return s[w].Effective&m != 0
}

func (s *sets) permitted(c Cap) bool {
	w, m := c.bit()
	return s[w].Permitted&m != 0
}

// Missing returns those of caps that are not in the calling thread's
// effective set, in their order. When the kernel will not say, it returns
// nil: loading the probes will.
func Missing(caps ...Cap) []Cap {
	s, err := readSets()
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(caps), s.effective)
}

var names = map[Cap]string{
	DACReadSearch: "CAP_DAC_READ_SEARCH", SysPtrace: "CAP_SYS_PTRACE", BPF: "CAP_BPF",
	Perfmon: "CAP_PERFMON", NetAdmin: "CAP_NET_ADMIN", SysAdmin: "CAP_SYS_ADMIN",
	unix.CAP_SETUID: "CAP_SETUID", unix.CAP_SETGID: "CAP_SETGID", unix.CAP_SETPCAP: "CAP_SETPCAP",
}

func (c Cap) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return "capability " + strconv.Itoa(int(c))
}

// lastCap is the highest capability this kernel knows.
func lastCap() Cap {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	return Cap(n)
}

// Request says what to keep.
type Request struct {
	// Keep are the capabilities the running loop may use. Only those
	// the process holds (in its permitted set) can be kept: one started
	// with fewer (file or ambient capabilities) goes on without the
	// rest, and Drop's result says what was kept.
	Keep []Cap
	// Optional are kept only if Needed says the loop fails without them:
	// Needed runs with each dropped from the effective set. Those not
	// held are not tried.
	Optional []Cap
	Needed   func() error
	// User, if not nil, is the user to become; its primary group too,
	// with no supplementary groups.
	User *User
}

// User is an account to become, looked up before anything is loaded, so
// that one that does not exist is a usage error, not a failure after the
// probes are attached.
type User struct {
	Name     string
	UID, GID int
}

// LookupUser finds the account --user names: USER or USER:GROUP, each a
// name or a number. A number needs no passwd or group entry, so that
// --user 65534:65534 works in a FROM scratch image, which has neither
// file. A user id without an entry has no primary group to take: the
// group must then be given, rather than guessed (the gid equal to the
// uid may be a privileged group such as disk on the host).
func LookupUser(spec string) (*User, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" || (hasGroup && group == "") {
		return nil, fmt.Errorf("--user %q: want USER or USER:GROUP, each a name or a number", spec)
	}
	u := &User{Name: spec, UID: -1, GID: -1}
	id, numeric, err := parseID(name)
	if err != nil {
		return nil, fmt.Errorf("--user %q: %w", spec, err)
	}
	if pw, err := lookupPasswd(name, numeric); err == nil {
		if u.UID, err = parseEntryID(pw.Uid); err == nil {
			u.GID, err = parseEntryID(pw.Gid)
		}
		if err != nil {
			return nil, fmt.Errorf("--user %q: passwd entry: %w", spec, err)
		}
	} else if numeric {
		u.UID = id
	} else {
		return nil, fmt.Errorf("--user %q: no such user: give one that getent passwd knows, or numbers as in --user 65534:65534", spec)
	}
	if hasGroup {
		if u.GID, err = lookupGroup(group); err != nil {
			return nil, fmt.Errorf("--user %q: %w", spec, err)
		}
	}
	if u.GID < 0 {
		return nil, fmt.Errorf("--user %q: user %d has no passwd entry to give its group: name one, as in --user %d:%d", spec, u.UID, u.UID, u.UID)
	}
	return u, nil
}

// maxID is the largest user or group id: (uid_t)-1 tells setresuid to
// leave the id as it is, so --user 4294967295 would stay root.
const maxID = 1<<32 - 2

// parseID reads a user or group id; a name is not one (numeric false).
func parseID(s string) (id int, numeric bool, err error) {
	if strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, true, fmt.Errorf("id %s is out of range (0 to %d)", s, maxID)
	}
	return int(n), true, nil
}

// parseEntryID reads an id from the passwd or group database.
func parseEntryID(s string) (int, error) {
	id, numeric, err := parseID(s)
	if err == nil && !numeric {
		err = fmt.Errorf("id %q is not a number", s)
	}
	return id, err
}

// lookupPasswd finds the passwd entry of a user name or number. A
// missing or unreadable /etc/passwd is the same as no entry.
func lookupPasswd(name string, numeric bool) (*user.User, error) {
	if numeric {
		return user.LookupId(name)
	}
	return user.Lookup(name)
}

// lookupGroup returns the id of a group name or number; a number needs
// no entry in /etc/group.
func lookupGroup(group string) (int, error) {
	id, numeric, err := parseID(group)
	if err != nil || numeric {
		return id, err
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("no such group %q", group)
	}
	return parseEntryID(g.Gid)
}

// ErrUnsupported is returned when privileges cannot be changed on every
// thread (a build with cgo).
var ErrUnsupported = errors.New("cannot change the privileges of every thread (built with cgo)")

// Drop gives up everything but what r keeps, and returns what it kept.
func Drop(r Request) ([]Cap, error) {
	keep, err := decide(r)
	if err != nil {
		return nil, err
	}
	if r.User != nil {
		if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); err != nil {
			return nil, fmt.Errorf("keep capabilities across the user switch: %w", err)
		}
	}
	// The bounding set first, while CAP_SETPCAP is still effective. A
	// process started with a few file capabilities has no CAP_SETPCAP:
	// its bounding set stays, its other sets still empty out.
	if slices.Contains(Effective(), unix.CAP_SETPCAP) {
		for c := Cap(0); c <= lastCap(); c++ {
			if !slices.Contains(keep, c) {
				if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil && !errors.Is(err, syscall.EINVAL) {
					return nil, fmt.Errorf("drop %v from the bounding set: %w", c, err)
				}
			}
		}
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		return nil, fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if r.User != nil {
		if err := switchUser(r.User); err != nil {
			return nil, err
		}
	}
	if err := setCaps(keep, keep); err != nil {
		return nil, err
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return nil, fmt.Errorf("set no_new_privs: %w", err)
	}
	if r.User != nil {
		_ = allThreads(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0)
	}
	return keep, nil
}

// decide returns what the process holds of r.Keep, plus the optional
// capabilities it holds and r.Needed fails without: each is tried with exactly the others effective, while the
// permitted set still allows going back.
func decide(r Request) ([]Cap, error) {
	current, err := readSets()
	if err != nil {
		return nil, fmt.Errorf("read capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	// capset cannot add to the permitted set: what is not there is gone.
	notHeld := func(c Cap) bool { return !current.permitted(c) }
	keep := slices.DeleteFunc(slices.Clone(r.Keep), notHeld)
	optional := slices.DeleteFunc(slices.Clone(r.Optional), notHeld)
	if len(optional) == 0 {
		return keep, nil
	}
	restore := func() error {
		if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&current[0])), 0); err != nil {
			return fmt.Errorf("restore capabilities: %w", err)
		}
		return nil
	}
	for _, c := range optional {
		others := append(slices.Clone(keep), optional...)
		others = slices.DeleteFunc(others, func(k Cap) bool { return k == c })
		probe := current
		probe[0].Effective, probe[1].Effective = 0, 0
		for _, k := range others {
			w, m := k.bit()
			probe[w].Effective |= m & probe[w].Permitted
		}
		if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&probe[0])), 0); err != nil {
			return nil, fmt.Errorf("set capabilities: %w", err)
		}
		needed := r.Needed != nil && r.Needed() != nil
		if err := restore(); err != nil {
			return nil, err
		}
		if needed {
			keep = append(keep, c)
		}
	}
	return keep, nil
}

// switchUser becomes u, with its primary group and no supplementary
// groups.
func switchUser(u *User) error {
	name, uid, gid := u.Name, u.UID, u.GID
	// The syscall package applies these to every thread.
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("--user %s: drop supplementary groups: %w", name, err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("--user %s: set group %d: %w", name, gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("--user %s: set user %d: %w", name, uid, err)
	}
	return nil
}

// setCaps sets the effective and permitted sets of every thread; the
// inheritable set is emptied.
func setCaps(effective, permitted []Cap) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data sets
	for _, c := range effective {
		w, m := c.bit()
		data[w].Effective |= m
	}
	for _, c := range permitted {
		w, m := c.bit()
		data[w].Permitted |= m
	}
	if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	return nil
}

func allThreads(trap, a1, a2, a3 uintptr) error {
	_, _, errno := syscall.AllThreadsSyscall(trap, a1, a2, a3)
	switch errno {
	case 0:
		return nil
	case syscall.ENOTSUP:
		return ErrUnsupported
	}
	return errno
}

// Effective lists the capabilities in the calling thread's effective set.
func Effective() []Cap {
	s, err := readSets()
	if err != nil {
		return nil
	}
	var out []Cap
	for c := Cap(0); c < 64; c++ {
		if s.effective(c) {
			out = append(out, c)
		}
	}
	return out
}
