package main

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
)

// load is the mixed traffic the soak checks tcptop against, all over
// loopback, every byte counted.
type load struct {
	mu      sync.Mutex
	done    []shortConn // short-lived connections that finished
	flows   []*longFlow
	quit    chan struct{}
	wg      sync.WaitGroup
	closers []io.Closer
}

// shortConn is a finished short-lived connection: its client's port and
// the bytes it sent and received.
type shortConn struct {
	port    int
	out, in int64
}

// longFlow is a connection or UDP flow that lasts the whole soak.
type longFlow struct {
	proto      string
	port, peer int
	out, in    atomic.Int64
}

func (l *load) churned() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.done)
}

func (l *load) long() []*longFlow { return l.flows }

func (l *load) stop() {
	close(l.quit)
	for _, c := range l.closers {
		c.Close()
	}
	l.wg.Wait()
}

func (l *load) listen(network string) (net.Listener, error) {
	ln, err := net.Listen(network, "127.0.0.1:0")
	if err == nil {
		l.closers = append(l.closers, ln)
	}
	return ln, err
}

// startLoad starts: connection churn (about 20 a second, random sizes each
// way), a bulk sender (about 1 MB/s), three request/response connections,
// three idle ones, and three UDP clients of one unconnected server.
func startLoad() (*load, error) {
	l := &load{quit: make(chan struct{})}
	// Each short-lived client sends its size first, then the bytes; the
	// server answers with a third as many.
	echo, err := l.listen("tcp")
	if err != nil {
		return nil, err
	}
	go serveAnswers(echo)
	churnPort.Store(int64(echo.Addr().(*net.TCPAddr).Port))
	l.every(50*time.Millisecond, func() { l.shortLived(echo.Addr().String()) })

	sink, err := l.listen("tcp")
	if err != nil {
		return nil, err
	}
	go serveSink(sink)
	if err := l.bulk(sink.Addr().String()); err != nil {
		return nil, err
	}
	reqresp, err := l.listen("tcp")
	if err != nil {
		return nil, err
	}
	go serveEcho(reqresp)
	for range 3 {
		if err := l.requests(reqresp.Addr().String()); err != nil {
			return nil, err
		}
		if err := l.idle(sink.Addr().String()); err != nil {
			return nil, err
		}
	}
	return l, l.udp()
}

// every runs f every d until the soak stops.
func (l *load) every(d time.Duration, f func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tk := time.NewTicker(d)
		defer tk.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-tk.C:
				f()
			}
		}
	}()
}

// shortLived opens a connection, sends a random amount, reads the
// server's answer (a third of it) and closes.
func (l *load) shortLived(addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	n := 1 + rand.IntN(200000)
	req := make([]byte, n)
	req[0], req[1], req[2] = byte(n>>16), byte(n>>8), byte(n)
	out, _ := c.Write(req)
	got, _ := io.Copy(io.Discard, c)
	c.Close()
	l.mu.Lock()
	l.done = append(l.done, shortConn{port: c.LocalAddr().(*net.TCPAddr).Port, out: int64(out), in: got})
	l.mu.Unlock()
}

// serveAnswers reads a 3-byte size, then that many bytes (counting the
// size), answers a third of them and closes.
func serveAnswers(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			hdr := make([]byte, 3)
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			if _, err := io.CopyN(io.Discard, c, int64(n-3)); err != nil {
				return
			}
			_, _ = c.Write(make([]byte, n/3))
		}()
	}
}

func serveSink(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
	}
}

func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { _, _ = io.Copy(c, c); c.Close() }()
	}
}

// track opens a connection that lasts the soak.
func (l *load) track(addr string) (net.Conn, *longFlow, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	l.closers = append(l.closers, c)
	f := &longFlow{proto: "tcp", port: c.LocalAddr().(*net.TCPAddr).Port, peer: c.RemoteAddr().(*net.TCPAddr).Port}
	l.flows = append(l.flows, f)
	return c, f, nil
}

// bulk sends 64 KiB every 64 ms.
func (l *load) bulk(addr string) error {
	c, f, err := l.track(addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	l.every(64*time.Millisecond, func() {
		n, _ := c.Write(buf)
		f.out.Add(int64(n))
	})
	return nil
}

// requests sends 200 bytes every 50 ms and reads them back.
func (l *load) requests(addr string) error {
	c, f, err := l.track(addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 200)
	l.every(50*time.Millisecond, func() {
		n, _ := c.Write(buf)
		f.out.Add(int64(n))
		m, _ := io.ReadFull(c, buf[:n])
		f.in.Add(int64(m))
	})
	return nil
}

// idle holds a connection that sends 10 bytes once.
func (l *load) idle(addr string) error {
	c, f, err := l.track(addr)
	if err != nil {
		return err
	}
	n, err := c.Write(make([]byte, 10))
	f.out.Add(int64(n))
	return err
}

// udp has three clients send 100-byte datagrams every 100 ms to one
// unconnected server socket, which answers each with 50 bytes.
func (l *load) udp() error {
	srv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	l.closers = append(l.closers, srv)
	go func() {
		buf := make([]byte, 2048)
		for {
			_, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteTo(buf[:50], from)
		}
	}()
	for range 3 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		l.closers = append(l.closers, c)
		f := &longFlow{proto: "udp", port: c.LocalAddr().(*net.UDPAddr).Port, peer: srv.LocalAddr().(*net.UDPAddr).Port}
		l.flows = append(l.flows, f)
		buf := make([]byte, 100)
		l.every(100*time.Millisecond, func() {
			n, err := c.WriteTo(buf, srv.LocalAddr())
			if err != nil {
				return
			}
			f.out.Add(int64(n))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if m, _, err := c.ReadFrom(buf); err == nil {
				f.in.Add(int64(m))
			}
		})
	}
	return nil
}

// tableFill counts the entries of tcptop's TCP table (the kernel map
// named tcp_conns).
func tableFill() int {
	id := ebpf.MapID(0)
	total := 0
	for {
		next, err := ebpf.MapGetNextID(id)
		if err != nil {
			return total
		}
		id = next
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		if info, err := m.Info(); err == nil && info.Name == "tcp_conns" {
			var k uint64
			v := make([]byte, m.ValueSize())
			it := m.Iterate()
			for it.Next(&k, &v) {
				total++
			}
		}
		m.Close()
	}
}
