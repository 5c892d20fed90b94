package cli

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// stdoutClosed reports whether w is the process's standard output and it
// was closed when tcptop started (tcptop >&-). Go's runtime opens
// /dev/null read-write on a standard descriptor it finds closed at start,
// so that a file opened later cannot take the number; writes then vanish
// for as long as tcptop runs. A shell's > /dev/null opens it write-only,
// so /dev/null open for reading and writing on descriptor 1 is the closed
// stdout. The check goes through SyscallConn, which, unlike Fd, leaves
// the descriptor's mode alone.
func stdoutClosed(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f != os.Stdout {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	_ = rc.Control(func(fd uintptr) {
		var st, null unix.Stat_t
		if err := unix.Fstat(int(fd), &st); err != nil {
			closed = true // EBADF: the runtime could not reopen it either
			return
		}
		if unix.Stat("/dev/null", &null) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != null.Rdev {
			return
		}
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		closed = err == nil && flags&unix.O_ACCMODE == unix.O_RDWR
	})
	return closed
}
