package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// perProcess is how many connections one helper process holds: the open
// file limit here is 20,000 per process and cannot be raised.
const perProcess = 18000

// roles are the helper processes the harness runs (itself, re-executed).
var roles = map[string]func(args []string) error{
	"hold-server": holdServer,
	"hold-client": holdClient,
}

// load is the set of helper processes holding the connections.
type load struct {
	procs  []*exec.Cmd
	active int
}

// startLoad opens n connections: n-active idle ones, held by pairs of
// client and server processes that never read or write, and active ones
// whose client sends 100 bytes every 100 ms and whose server echoes them.
func startLoad(n, active int) (*load, error) {
	l := &load{active: active}
	idle := n - active
	for idle > 0 {
		k := min(idle, perProcess)
		if err := l.pair(k, false); err != nil {
			l.stop()
			return nil, err
		}
		idle -= k
	}
	if active > 0 {
		if err := l.pair(active, true); err != nil {
			l.stop()
			return nil, err
		}
	}
	time.Sleep(time.Second) // let the handshakes and accepts settle
	return l, nil
}

// pair starts a server and a client process holding k connections.
func (l *load) pair(k int, busy bool) error {
	flag := strconv.FormatBool(busy)
	port, err := l.start("hold-server", "127.0.0.1:0", flag)
	if err != nil {
		return err
	}
	got, err := l.start("hold-client", "127.0.0.1:"+port, strconv.Itoa(k), flag)
	if err != nil {
		return err
	}
	if got != strconv.Itoa(k) {
		return fmt.Errorf("client opened %s of %d connections", got, k)
	}
	return nil
}

// start runs a helper and returns the word it prints after "ready".
func (l *load) start(args ...string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	l.procs = append(l.procs, cmd)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s did not get ready: %v", args[0], err)
	}
	word, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if !ok {
		return "", fmt.Errorf("%s: unexpected %q", args[0], line)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return word, nil
}

func (l *load) stop() {
	for _, p := range l.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	l.procs = nil
}

// heldConns keeps a hold process's connections reachable: a net.Conn
// nothing refers to is closed by its finalizer at the next GC (the
// runtime forces one every two minutes), which once emptied a 30-minute
// soak after its first two.
var heldConns []net.Conn

// holdServer ADDR BUSY: accept connections and hold them; with BUSY, echo
// what each sends.
func holdServer(args []string) error {
	// Go turns TCP keepalives on by default (every 15 s): idle
	// connections must be idle.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", args[0])
	if err != nil {
		return err
	}
	fmt.Printf("ready %d\n", ln.Addr().(*net.TCPAddr).Port)
	busy := args[1] == "true"
	var held []net.Conn
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		held = append(held, c)
		heldConns = held
		if busy {
			go func() { _, _ = io.Copy(c, c) }()
		}
	}
}

// holdClient ADDR N BUSY: open N connections and hold them; with BUSY,
// each sends 100 bytes every 100 ms and reads the echo.
func holdClient(args []string) error {
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	held := make([]net.Conn, 0, n)
	d := net.Dialer{KeepAlive: -1} // see holdServer
	for range n {
		c, err := d.Dial("tcp", args[0])
		if err != nil {
			return fmt.Errorf("connection %d: %w", len(held)+1, err)
		}
		held = append(held, c)
	}
	heldConns = held // or the GC's finalizers close them, within two minutes
	fmt.Printf("ready %d\n", len(held))
	if args[2] == "true" {
		for _, c := range held {
			go func() {
				buf := make([]byte, 100)
				for {
					if _, err := c.Write(buf); err != nil {
						return
					}
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
	}
	select {}
}
