package testnet

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	roles["tcp-backlog"] = tcpBacklog
	roles["tcp-backlog-defer"] = func(args []string) error { return backlogListener(args, true) }
}

// tcpBacklog BACKLOG CLIENTS: listen on 127.0.0.1 (an ephemeral port)
// with listen(BACKLOG), never accept, say ready with the port, then start
// CLIENTS non-blocking connects to it and hold every socket open until
// released. Go's net.Listen would ask for net.core.somaxconn; this asks
// for exactly BACKLOG.
func tcpBacklog(args []string) error { return backlogListener(args, false) }

// backlogListener is tcp-backlog; with deferAccept, the listener sets
// TCP_DEFER_ACCEPT (a minute), so that a handshake whose last ACK
// carries no data stays in the SYN queue (its clients send nothing):
// tcp-backlog-defer.
func backlogListener(args []string, deferAccept bool) error {
	backlog, clients := atoi(args[0]), atoi(args[1])
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(ln)
	if deferAccept {
		if err := unix.SetsockoptInt(ln, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 60); err != nil {
			return err
		}
	}
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return err
	}
	if err := unix.Listen(ln, backlog); err != nil {
		return err
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		return err
	}
	port := sa.(*unix.SockaddrInet4).Port
	ready(port)
	// The first BACKLOG+1 clients fill the accept queue (the kernel takes
	// one while sk_ack_backlog <= backlog); the rest start only once it
	// is full, so that every one of their SYNs is refused at once, and
	// counted once in TcpExtListenDrops and in the listener's drops
	// alike (a handshake's last ACK refused for a full queue counts
	// twice in the latter: docs/fields.md, listen_drops).
	for i := range clients {
		if i == backlog+1 && !deferAccept {
			if err := waitAcceptQueue(ln, uint32(backlog+1)); err != nil {
				return err
			}
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
		if err != nil && err != unix.EINPROGRESS {
			return fmt.Errorf("connect: %w", err)
		}
	}
	waitRelease()
	return nil
}

// waitAcceptQueue waits until listener fd's accept queue holds n: a
// listener's TCP_INFO gives it as tcpi_unacked (tcp_get_info).
func waitAcceptQueue(fd int, n uint32) error {
	for range 500 {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return err
		}
		if info.Unacked >= n {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("accept queue did not reach %d in 5 s", n)
}
