// Command soak runs tcptop for a long time under a mixed load of known
// byte counts and checks what it reports: every short-lived connection
// closed exactly once with exact bytes, long-lived connections' counters
// equal to what was sent, UDP flows exact, and tcptop's memory and kernel
// table fill flat. `make soak DURATION=10m` runs it (root); a run's
// figures are in docs/reliability.md.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("tcptop", "bin/tcptop", "the tcptop binary")
	duration := flag.Duration("duration", 10*time.Minute, "how long to run")
	sample := flag.Duration("sample", time.Minute, "how often to sample tcptop's memory and table fill")
	flag.Parse()
	if os.Geteuid() != 0 {
		fail(fmt.Errorf("needs root, to load tcptop's probes"))
	}
	if err := run(*bin, *duration, *sample); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "soak: %v\n", err)
	os.Exit(1)
}

// record is what the soak reads of tcptop's NDJSON.
type record struct {
	Proto      string `json:"proto"`
	LocalPort  int    `json:"local_port"`
	RemotePort int64  `json:"remote_port"`
	PID        int    `json:"pid"`
	BytesIn    int64  `json:"bytes_in"`
	BytesOut   int64  `json:"bytes_out"`
	Closed     bool   `json:"closed"`
	Tick       int64  `json:"tick"`
}

// reader keeps, per flow, the last record and the closed records.
type reader struct {
	mu     sync.Mutex
	last   map[string]record // by proto/local/remote port
	closed map[int][]record  // TCP closes to the churn server, by local port, in order
	lines  int64
	ticks  int64
}

// churnPort is the port of the server the short-lived connections use.
var churnPort atomic.Int64

func key(proto string, local, remote int) string {
	return fmt.Sprintf("%s/%d/%d", proto, local, remote)
}

func (r *reader) read(sc *bufio.Scanner) error {
	for sc.Scan() {
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("tcptop wrote a line that is not JSON: %q", sc.Text())
		}
		r.mu.Lock()
		r.lines++
		r.ticks = max(r.ticks, rec.Tick)
		r.last[key(rec.Proto, rec.LocalPort, int(rec.RemotePort))] = rec
		if rec.Proto == "tcp" && rec.Closed && rec.RemotePort == churnPort.Load() {
			r.closed[rec.LocalPort] = append(r.closed[rec.LocalPort], rec)
		}
		r.mu.Unlock()
	}
	return sc.Err()
}

func run(bin string, duration, sample time.Duration) error {
	cmd := exec.Command(bin, "-v", "-o", "ndjson", "-i", "1s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	rd := &reader{last: map[string]record{}, closed: map[int][]record{}}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	readErr := make(chan error, 1)
	go func() { readErr <- rd.read(sc) }()
	time.Sleep(2 * time.Second) // attached, first tick

	l, err := startLoad()
	if err != nil {
		return err
	}
	start := time.Now()
	var samples []sampleRow
	for time.Since(start) < duration {
		time.Sleep(min(sample, duration-time.Since(start)))
		samples = append(samples, sampleRow{
			at: time.Since(start).Round(time.Second), rss: statusKB(cmd.Process.Pid, "VmRSS"),
			fill: tableFill(), churned: l.churned(),
		})
		select {
		case err := <-readErr:
			return fmt.Errorf("reading tcptop: %v (stderr: %s)", err, stderr.String())
		default:
		}
	}
	l.stop()
	time.Sleep(5 * time.Second) // the last closes and counters are read
	return report(rd, l, samples, statusKB(cmd.Process.Pid, "VmHWM"), duration, stderr.String())
}

type sampleRow struct {
	at      time.Duration
	rss     int64 // kB
	fill    int   // entries in tcptop's TCP table
	churned int   // short-lived connections so far
}

// report checks the records against what the load did and prints the
// figures; it fails if any check fails.
func report(rd *reader, l *load, samples []sampleRow, hwm int64, d time.Duration, stderr string) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	var problems []string
	// Every short-lived connection: closed once, exact. A port may serve
	// several connections in a long run, and two of them finishing in the
	// same tick are written in key order, not in the order they finished:
	// each connection takes one close from its port with its exact bytes.
	exact := 0
	byPort := map[int][]shortConn{}
	for _, c := range l.done {
		byPort[c.port] = append(byPort[c.port], c)
	}
	for port, conns := range byPort {
		got := append([]record(nil), rd.closed[port]...)
		if len(got) != len(conns) {
			problems = append(problems, fmt.Sprintf("port %d: %d connections, %d closed records", port, len(conns), len(got)))
			continue
		}
		for _, c := range conns {
			i := slices.IndexFunc(got, func(r record) bool { return r.BytesOut == c.out && r.BytesIn == c.in })
			if i < 0 {
				problems = append(problems, fmt.Sprintf("connection from port %d: sent %d/%d, no close with those bytes among %v", port, c.out, c.in, got))
				continue
			}
			got = slices.Delete(got, i, i+1)
			exact++
		}
	}
	// Long-lived connections and UDP flows: last counters equal what moved.
	longExact := 0
	for _, f := range l.long() {
		rec, ok := rd.last[key(f.proto, f.port, f.peer)]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s flow from port %d not reported", f.proto, f.port))
		case rec.BytesOut != f.out.Load() || rec.BytesIn != f.in.Load():
			problems = append(problems, fmt.Sprintf("%s flow from port %d: %d out/%d in, moved %d/%d", f.proto, f.port, rec.BytesOut, rec.BytesIn, f.out.Load(), f.in.Load()))
		default:
			longExact++
		}
	}
	for _, line := range strings.Split(stderr, "\n") {
		for _, w := range []string{"went backwards", "not tracked", "not counted", "failed"} {
			if strings.Contains(line, w) {
				problems = append(problems, "tcptop said: "+line)
			}
		}
	}
	fmt.Printf("# soak %s, %v, tcptop -o ndjson -i 1s\n\n", time.Now().UTC().Format("2006-01-02 15:04"), d)
	fmt.Printf("| minute | tcptop RSS | TCP table entries | short-lived connections so far |\n|---|---|---|---|\n")
	for _, s := range samples {
		fmt.Printf("| %v | %.1f MiB | %d | %d |\n", s.at, float64(s.rss)/1024, s.fill, s.churned)
	}
	fmt.Printf("\nPeak RSS %.1f MiB. %d ticks, %d lines read.\n", float64(hwm)/1024, rd.ticks, rd.lines)
	fmt.Printf("Short-lived connections closed once with exact bytes: %d of %d.\n", exact, len(l.done))
	fmt.Printf("Long-lived TCP connections and UDP flows with exact counters: %d of %d.\n", longExact, len(l.long()))
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
		}
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Println("No problem found.")
	return nil
}

func statusKB(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var n int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			return n
		}
	}
	return 0
}
