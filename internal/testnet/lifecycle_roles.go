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
	roles["tcp-answer"] = tcpAnswer
	roles["tcp-halfclose"] = tcpHalfClose
	roles["tcp-reset-server"] = tcpResetServer
	roles["tcp-read-late"] = tcpReadLate
	roles["tcp-hold-server"] = tcpHoldServer
	roles["tcp-close-client"] = tcpCloseClient
	roles["tcp-idle-accept"] = tcpIdleAccept
}

// tcpAnswer ADDR IN OUT: accept connections until released; on each,
// read exactly IN bytes, answer OUT bytes and close. With IN = -1 it
// reads to EOF (a client that half-closes) before answering.
func tcpAnswer(args []string) error {
	in, out := atoi(args[1]), make([]byte, atoi(args[2]))
	return serveEach(args[0], func(c net.Conn) {
		defer c.Close()
		if in < 0 {
			_, _ = io.Copy(io.Discard, c)
		} else {
			_, _ = io.CopyN(io.Discard, c, int64(in))
		}
		_, _ = c.Write(out)
	})
}

// tcpHalfClose ADDR REQ ANS N WITHIN: N times in turn, connect, send REQ
// bytes, shut down the write side, wait (at most WITHIN) until the
// server's answer and FIN have arrived and the kernel has taken the
// socket to CLOSE, and only then read the answer, exactly ANS bytes, to
// EOF, and close.
func tcpHalfClose(args []string) error {
	ready(0)
	req, ans, n := atoi(args[1]), atoi(args[2]), atoi(args[3])
	within, err := time.ParseDuration(args[4])
	if err != nil {
		return err
	}
	for range n {
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			return err
		}
		if _, err := c.Write(make([]byte, req)); err != nil {
			return err
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			return err
		}
		if err := awaitClosed(c, within); err != nil {
			return err
		}
		got, err := io.Copy(io.Discard, c)
		if err != nil || got != int64(ans) {
			return fmt.Errorf("read %d bytes of the answer (%v), want %d", got, err, ans)
		}
		c.Close()
	}
	return nil
}

// tcpResetServer ADDR IN OUT: accept one connection, read exactly IN
// bytes, write OUT bytes, then abort it with a reset (SO_LINGER 0).
func tcpResetServer(args []string) error {
	c, err := acceptOne(args[0])
	if err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, c, int64(atoi(args[1]))); err != nil {
		return err
	}
	if _, err := c.Write(make([]byte, atoi(args[2]))); err != nil {
		return err
	}
	// The whole answer is acknowledged before the reset: a reset throws
	// away what is still in flight.
	if err := awaitTCPInfo(c, 10*time.Second, "acknowledged", func(info *unix.TCPInfo) bool {
		return info.Unacked == 0 && info.Notsent_bytes == 0
	}); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		return err
	}
	return c.Close()
}

// tcpReadLate ADDR OUT IN WITHIN: connect, send OUT bytes, wait (at most
// WITHIN) until the peer has answered IN bytes and reset the connection,
// then read: exactly IN bytes, then the reset. Closes when released.
func tcpReadLate(args []string) error {
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	ready(c.LocalAddr().(*net.TCPAddr).Port)
	if _, err := c.Write(make([]byte, atoi(args[1]))); err != nil {
		return err
	}
	within, err := time.ParseDuration(args[3])
	if err != nil {
		return err
	}
	if err := awaitClosed(c, within); err != nil {
		return err
	}
	got, err := io.Copy(io.Discard, c)
	if got != int64(atoi(args[2])) || !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("read %d bytes then %v, want %s bytes then a reset", got, err, args[2])
	}
	waitRelease()
	return nil
}

// tcpHoldServer ADDR IN OUT: accept one connection, read IN bytes, answer
// OUT bytes, read to EOF, and then hold the connection open (never close
// it) until released.
func tcpHoldServer(args []string) error {
	c, err := acceptOne(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.CopyN(io.Discard, c, int64(atoi(args[1]))); err != nil {
		return err
	}
	if _, err := c.Write(make([]byte, atoi(args[2]))); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, c)
	waitRelease()
	return nil
}

// tcpCloseClient ADDR OUT IN: connect, send OUT bytes, read IN bytes,
// close, and stay alive until released (so its pid stays valid).
func tcpCloseClient(args []string) error {
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	ready(c.LocalAddr().(*net.TCPAddr).Port)
	if _, err := c.Write(make([]byte, atoi(args[1]))); err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, c, int64(atoi(args[2]))); err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return err
	}
	waitRelease()
	return nil
}

// tcpIdleAccept ADDR: accept one connection and hold it without reading or
// writing, until released.
func tcpIdleAccept(args []string) error {
	c, err := acceptOne(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	waitRelease()
	return nil
}

// awaitClosed waits until the kernel has taken the connection's socket to
// CLOSE, failing after within: a role meant to read after that would
// otherwise prove nothing.
func awaitClosed(c net.Conn, within time.Duration) error {
	return awaitTCPInfo(c, within, "CLOSE", func(info *unix.TCPInfo) bool { return info.State == 7 /* TCP_CLOSE */ })
}

// awaitTCPInfo polls the connection's TCP_INFO until done holds, failing
// after within. It polls rather than sleeping a fixed time because an
// emulated guest can take many times longer than the host.
func awaitTCPInfo(c net.Conn, within time.Duration, what string, done func(*unix.TCPInfo) bool) error {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for {
		var info *unix.TCPInfo
		var serr error
		if err := raw.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
		if done(info) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("socket (state %d, %d segments unacknowledged) still not %s after %v", info.State, info.Unacked, what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
