package source

import (
	"errors"
	"fmt"

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
