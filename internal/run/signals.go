package run

import (
	"errors"
	"os"
	"syscall"
)

// stopSignals end tcptop, each after detaching everything. SIGHUP (the
// terminal or the session went away; a supervisor's reload) ends it as
// SIGTERM does: tcptop writes to stdout, which it cannot reopen, so
// ending cleanly is the honest answer, and its exit code 0 is that of
// a clean stop, not 129 without a word.
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// errQuit ends tcptop with ExitQuit, and says so on stderr.
var errQuit = errors.New("stopped by SIGQUIT")

// stoppedBy is what a stop signal ends tcptop with: nil (exit 0) but for
// SIGQUIT, a request to quit that a caller may tell from a clean stop.
func stoppedBy(sig os.Signal) error {
	if sig == syscall.SIGQUIT {
		return errQuit
	}
	return nil
}
