package source

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// BenchmarkListenersRead is what --listeners costs a tick: a read of 100
// listeners beside 5,000 established loopback connections (10,000
// sockets, the most one process holds here), in tcptop's own namespace.
// Baselines, in the same run: the dump ss -ltn asks for (listening
// sockets only, with the memory counters: the kernel walks the listening
// hash alone), and ss -tn state syn-recv's (both families: the kernel
// walks its whole established hash, shared by every namespace, empty
// buckets too). tcptop's read is the two.
//
//	go test ./internal/source -run '^$' -bench ListenersRead -benchtime 200x
func BenchmarkListenersRead(b *testing.B) {
	requireRootB(b)
	const listeners, conns = 100, 5000
	var keep []net.Conn
	b.Cleanup(func() {
		for _, c := range keep {
			c.Close()
		}
	})
	lns := make([]net.Listener, listeners)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		lns[i] = ln
	}
	for i := range conns {
		ln := lns[i%listeners]
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		keep = append(keep, c, s)
	}
	l, err := listenersHere("")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.Run("ss-ltn", func(b *testing.B) {
		reqs := [][]byte{diagRequest(unix.AF_INET, 1<<tcpListen, true, 1), diagRequest(unix.AF_INET6, 1<<tcpListen, true, 2)}
		for b.Loop() {
			n := 0
			for _, req := range reqs {
				if err := diagDump(l.socks[0].fd, req, l.buf, func(*diagSock) { n++ }); err != nil {
					b.Fatal(err)
				}
			}
			if n < listeners {
				b.Fatalf("%d listeners", n)
			}
		}
	})
	b.Run("ss-syn-recv", func(b *testing.B) {
		for b.Loop() {
			if err := diagDump(l.socks[0].fd, l.synReq, l.buf, func(*diagSock) {}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tcptop", func(b *testing.B) {
		for b.Loop() {
			n := 0
			if err := l.Read(func(*conn.Listener) { n++ }); err != nil {
				b.Fatal(err)
			}
			if n < listeners {
				b.Fatalf("%d listeners", n)
			}
		}
	})
}
