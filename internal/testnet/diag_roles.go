package testnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	roles["tcp-flood"] = tcpFlood
	roles["tcp-flood-blocking"] = tcpFloodBlocking
	roles["tcp-hold-noread"] = tcpHoldNoRead
	roles["tcp-connect-fail"] = tcpConnectFail
	roles["tcp-reqresp"] = tcpReqResp
	roles["tcp-echo"] = tcpEcho
	roles["tcp-abort-server"] = tcpAbortServer
}

// tcpFlood ADDR SNDBUF: connect (with SO_SNDBUF set to SNDBUF bytes if
// not 0) and send as fast as it can until released or the peer goes.
func tcpFlood(args []string) error {
	d := net.Dialer{}
	if n := atoi(args[1]); n > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, n) })
			return errors.Join(err, serr)
		}
	}
	c, err := d.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	ready(c.LocalAddr().(*net.TCPAddr).Port)
	go func() { waitRelease(); c.Close() }()
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Write(buf); err != nil {
			return nil
		}
	}
}

// tcpFloodBlocking ADDR SNDBUF CC: tcp-flood as a C program does it, with
// blocking send() calls of 64 KiB (Go's sockets are non-blocking, and the
// kernel counts send-buffer-limited time only for a sender that waits in
// send()), SO_SNDBUF set to SNDBUF bytes and congestion control CC.
func tcpFloodBlocking(args []string) error {
	fd, sa, err := blockingSocket4(args[0])
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, atoi(args[1])); err != nil {
		return err
	}
	if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, args[2]); err != nil {
		return fmt.Errorf("congestion control %s: %w", args[2], err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		return err
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return err
	}
	ready(local.(*unix.SockaddrInet4).Port)
	go func() { waitRelease(); _ = unix.Shutdown(fd, unix.SHUT_RDWR) }()
	buf := make([]byte, 64<<10)
	for {
		if _, err := unix.Write(fd, buf); err != nil {
			return nil
		}
	}
}

// blockingSocket4 makes a blocking IPv4 TCP socket and the address of
// addr to connect it to: the roles that must behave as a C client does.
func blockingSocket4(addr string) (int, *unix.SockaddrInet4, error) {
	a, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return -1, nil, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, nil, err
	}
	return fd, &unix.SockaddrInet4{Port: a.Port, Addr: [4]byte(a.IP.To4())}, nil
}

// tcpHoldNoRead ADDR: accept one connection and hold it without reading,
// so the sender's window closes; until released.
func tcpHoldNoRead(args []string) error {
	c, err := acceptOne(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	waitRelease()
	return nil
}

// tcpConnectFail ADDR SYNCNT: connect with a blocking connect() (with
// TCP_SYNCNT set if not 0), as a C client does, expect it to fail, print
// the error, close the socket and stay until released. (A non-blocking
// connect, as Go's, may take an ICMP error that arrives while connect()
// runs, from a router on this host, as a soft error: see docs/fields.md,
// error.)
func tcpConnectFail(args []string) error {
	fd, sa, err := blockingSocket4(args[0])
	if err != nil {
		return err
	}
	if n := atoi(args[1]); n > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_SYNCNT, n); err != nil {
			return err
		}
	}
	ready(0)
	err = unix.Connect(fd, sa)
	unix.Close(fd)
	if err == nil {
		return fmt.Errorf("connect to %s succeeded", args[0])
	}
	fmt.Println("failed", err)
	waitRelease()
	return nil
}

// tcpReqResp ADDR N SIZE GAP: N requests of SIZE bytes, each answered
// (the peer echoes), with GAP between them; then hold until released.
func tcpReqResp(args []string) error {
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	ready(c.LocalAddr().(*net.TCPAddr).Port)
	gap, err := time.ParseDuration(args[3])
	if err != nil {
		return err
	}
	buf := make([]byte, atoi(args[2]))
	for range atoi(args[1]) {
		if _, err := c.Write(buf); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		time.Sleep(gap)
	}
	waitRelease()
	return nil
}

// tcpEcho ADDR: accept connections and echo what each sends, until
// released.
func tcpEcho(args []string) error {
	return serveEach(args[0], func(c net.Conn) { _, _ = io.Copy(c, c); c.Close() })
}

// tcpAbortServer ADDR N: accept one connection, read N bytes of what the
// client keeps sending, then abort it with a reset (SO_LINGER 0) in the
// middle of the transfer; stay until released.
func tcpAbortServer(args []string) error {
	c, err := acceptOne(args[0])
	if err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, c, int64(atoi(args[1]))); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		return err
	}
	c.Close()
	waitRelease()
	return nil
}
