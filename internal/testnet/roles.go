package testnet

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// roles maps a role name to its code. Every role but resolver-exec
// (testnet.Getent runs it) prints "ready <port>"
// once it can be talked to (port 0 if it has none).
var roles = map[string]func(args []string) error{
	"tcp-server":  tcpServer,
	"tcp-client":  tcpClient,
	"tcp-sink":    tcpSink,
	"tcp-many":    tcpMany,
	"tcp-blocked": tcpBlocked,
	"udp-server":  udpServer,
	"udp-client":  udpClient,
	// udp-client-on-release: as udp-client, but it sends only once the
	// test releases it, so that several clients can start together.
	"udp-client-on-release": func(args []string) error { return runUDPClient(args, true) },
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func ready(port int) { fmt.Printf("ready %d\n", port) }

// waitRelease blocks until the test closes our stdin.
func waitRelease() { _, _ = io.Copy(io.Discard, os.Stdin) }

// acceptOne listens on addr, says it is ready with the port, accepts one
// connection and stops listening.
func acceptOne(addr string) (net.Conn, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ready(ln.Addr().(*net.TCPAddr).Port)
	c, err := ln.Accept()
	ln.Close()
	return c, err
}

// tcpServer ADDR IN OUT: accept one connection, read exactly IN bytes,
// answer OUT bytes, read to EOF, close.
func tcpServer(args []string) error {
	c, err := acceptOne(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.CopyN(io.Discard, c, int64(atoi(args[1]))); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if _, err := c.Write(make([]byte, atoi(args[2]))); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, c)
	return err
}

// tcpClient ADDR OUT IN [hold]: connect, send OUT bytes, read IN bytes,
// then (with "hold") keep the connection open until released, and close.
func tcpClient(args []string) error {
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	ready(c.LocalAddr().(*net.TCPAddr).Port)
	if _, err := c.Write(make([]byte, atoi(args[1]))); err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, c, int64(atoi(args[2]))); err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	if len(args) > 3 && args[3] == "hold" {
		waitRelease()
	}
	return nil
}

// serveEach listens on addr, says it is ready with the port, and runs
// handle on each connection it accepts (each on a goroutine of its own)
// until the test releases it.
func serveEach(addr string, handle func(net.Conn)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ready(ln.Addr().(*net.TCPAddr).Port)
	go func() { waitRelease(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go handle(c)
	}
}

// tcpSink ADDR: accept connections and read each to EOF, until released.
func tcpSink(args []string) error {
	return serveEach(args[0], func(c net.Conn) { _, _ = io.Copy(io.Discard, c); c.Close() })
}

// tcpMany ADDR N SIZE: open N connections one after another, each sending
// SIZE bytes and closing.
func tcpMany(args []string) error {
	ready(0)
	n, size := atoi(args[1]), atoi(args[2])
	payload := make([]byte, size)
	for range n {
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			return err
		}
		if _, err := c.Write(payload); err != nil {
			return err
		}
		if err := c.Close(); err != nil {
			return err
		}
	}
	return nil
}

// udpServer ADDR REPLY: one unconnected socket; answers every datagram
// with REPLY bytes to its sender, until released.
func udpServer(args []string) error {
	pc, err := net.ListenPacket("udp", args[0])
	if err != nil {
		return err
	}
	ready(pc.LocalAddr().(*net.UDPAddr).Port)
	go func() { waitRelease(); pc.Close() }()
	reply := make([]byte, atoi(args[1]))
	buf := make([]byte, 65536)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return nil
		}
		if _, err := pc.WriteTo(reply, from); err != nil {
			return err
		}
	}
}

// udpClient ADDR COUNT SIZE [LOCAL]: from an unconnected socket (bound
// to LOCAL if given), send COUNT datagrams of SIZE bytes, waiting for each
// reply.
func udpClient(args []string) error { return runUDPClient(args, false) }

// runUDPClient is udp-client; onRelease makes it wait for the release
// between "ready" and its first datagram.
func runUDPClient(args []string, onRelease bool) error {
	raddr, err := net.ResolveUDPAddr("udp", args[0])
	if err != nil {
		return err
	}
	network := "udp4"
	if raddr.IP.To4() == nil {
		network = "udp6"
	}
	var laddr *net.UDPAddr
	if len(args) > 3 {
		if laddr, err = net.ResolveUDPAddr(network, args[3]); err != nil {
			return err
		}
	}
	pc, err := net.ListenUDP(network, laddr)
	if err != nil {
		return err
	}
	defer pc.Close()
	ready(pc.LocalAddr().(*net.UDPAddr).Port)
	if onRelease {
		waitRelease()
	}
	payload := bytes.Repeat([]byte{'u'}, atoi(args[2]))
	buf := make([]byte, 65536)
	for range atoi(args[1]) {
		if _, err := pc.WriteTo(payload, raddr); err != nil {
			return err
		}
		if _, _, err := pc.ReadFrom(buf); err != nil {
			return err
		}
	}
	return nil
}

// tcpBlocked ADDR N: open N connections and block one thread in a blocking
// read(2) on each, until released: a thread-per-connection server. Every
// such thread sits inside inet_recvmsg for as long as it waits.
func tcpBlocked(args []string) error {
	var conns []net.Conn // referenced, so that no finalizer closes them
	for range atoi(args[1]) {
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			return err
		}
		conns = append(conns, c)
		raw, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return err
		}
		var fd int
		if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
			return err
		}
		if err := syscall.SetNonblock(fd, false); err != nil {
			return err
		}
		go func() { _, _ = syscall.Read(fd, make([]byte, 1)) }()
	}
	time.Sleep(500 * time.Millisecond) // for every reader to block
	ready(0)
	waitRelease()
	return nil
}
