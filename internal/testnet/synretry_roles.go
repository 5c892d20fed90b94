package testnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// InitialRTOFloor is the least connect_us of a handshake that waited out
// the initial RTO (1 s) once. The retransmit timers run on jiffies: armed
// within a tick, they may fire up to a tick (4 ms at HZ=250) short of 1 s
// by the microsecond clocks the times are taken with; in the emulated
// guests (TCPTOP_VM=1) the tick also drifts against those clocks (a
// SYN-ACK resent after 989,312 µs on 6.12 under TCG, 2026-12-07).
var InitialRTOFloor = func() time.Duration {
	if os.Getenv("TCPTOP_VM") == "1" {
		return 900 * time.Millisecond
	}
	return time.Second - 10*time.Millisecond
}()

func init() {
	roles["tcp-syn-retry"] = tcpSynRetry
	roles["tcp-synack-retry"] = tcpSynackRetry
}

// tcpSynRetry ADDR IN OUT: one connection whose first SYN the listener
// drops, made with the socket API alone (the VM guests have no nft): a
// listener with backlog 1 holds two connections it has not accepted, so
// its accept queue is full and tcp_conn_request drops the next SYN
// without an answer (sk_acceptq_is_full, counted in ListenOverflows).
// Then it accepts one; the client's SYN, sent again after the initial
// RTO (1 s), gets through. It says ready with that client's port, and
// the client sends IN bytes, the server answers OUT, and both close.
//
// Backlog 1, not 0: with backlog 0 the SYN queue counts as full too
// (inet_csk_reqsk_queue_is_full: 0 >= 0), and with tcp_syncookies=1 every
// connection would be answered with a SYN cookie, not a request socket.
func tcpSynRetry(args []string) error {
	ln, err := listenBacklog(args[0], 1)
	if err != nil {
		return err
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for range 2 { // held, unaccepted: the accept queue is full
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
	}
	before, err := listenOverflows()
	if err != nil {
		return err
	}
	type dialed struct {
		c   net.Conn
		err error
	}
	late := make(chan dialed, 1)
	go func() {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		late <- dialed{c, err}
	}()
	if err := waitOverflow(before); err != nil {
		return err
	}
	first, err := ln.Accept() // room for the SYN sent again
	if err != nil {
		return err
	}
	defer first.Close()
	d := <-late
	if d.err != nil {
		return d.err
	}
	defer d.c.Close()
	ready(d.c.LocalAddr().(*net.TCPAddr).Port)
	return exchange(ln, d.c, atoi(args[1]), atoi(args[2]))
}

// exchange accepts the two connections left in ln's queue (the second
// held one, then cli's) and has cli send in bytes and read out bytes.
func exchange(ln net.Listener, cli net.Conn, in, out int) error {
	for range 2 {
		srv, err := ln.Accept()
		if err != nil {
			return err
		}
		defer srv.Close()
		if srv.RemoteAddr().String() != cli.LocalAddr().String() {
			continue // the held one
		}
		return request(cli, srv, in, out)
	}
	return fmt.Errorf("the connection of %v was not accepted", cli.LocalAddr())
}

// listenBacklog listens on an IPv4 addr with the backlog given (net.Listen
// takes the system's somaxconn).
func listenBacklog(addr string, backlog int) (net.Listener, error) {
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	return net.FileListener(f)
}

// waitOverflow waits until the namespace's ListenOverflows passed before:
// the listener dropped the SYN.
func waitOverflow(before uint64) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		n, err := listenOverflows()
		if err != nil {
			return err
		}
		if n > before {
			return nil
		}
	}
	return fmt.Errorf("no SYN dropped by the full accept queue within 10s (ListenOverflows stays %d)", before)
}

// listenOverflows reads TcpExt ListenOverflows (nstat TcpExtListenOverflows)
// of the namespace.
func listenOverflows() (uint64, error) {
	f, err := os.Open("/proc/net/netstat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var names []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "TcpExt:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		for i, name := range names {
			if name == "ListenOverflows" && i < len(fields) {
				return strconv.ParseUint(fields[i], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no TcpExt ListenOverflows in /proc/net/netstat")
}

// tcpSynackRetry ADDR IN OUT: one connection whose server sends its
// SYN-ACK again, made with the socket API alone: the listener has
// TCP_DEFER_ACCEPT of 1 s, so tcp_check_req drops the client's bare ACK
// and the request's timer sends the SYN-ACK again at 1 s (syn_ack_recalc:
// on the deferral's last period); the client's answer to it makes the
// connection. It says ready with the client's port once accepted; the
// client then sends IN bytes, the server answers OUT, and both close.
// (Sending at once would make the connection with the data instead.)
func tcpSynackRetry(args []string) error {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", args[0])
	if err != nil {
		return err
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer cli.Close()
	srv, err := ln.Accept()
	if err != nil {
		return err
	}
	defer srv.Close()
	ready(cli.LocalAddr().(*net.TCPAddr).Port)
	return request(cli, srv, atoi(args[1]), atoi(args[2]))
}

// request has cli send in bytes to srv, which answers out bytes.
func request(cli, srv net.Conn, in, out int) error {
	if _, err := cli.Write(make([]byte, in)); err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, srv, int64(in)); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if _, err := srv.Write(make([]byte, out)); err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, cli, int64(out)); err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	return nil
}
