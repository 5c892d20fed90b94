package emit

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var (
	ts1 = time.Date(2026, 11, 26, 5, 47, 55, 123456789, time.UTC)
	ts3 = time.Date(2026, 11, 26, 5, 47, 57, 123789000, time.UTC)
)

// ip parses an address for the fixtures.
func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// tick1 has IPv4 flows only, so the text format keeps its default widths.
func tick1() []conn.Row {
	return identify([]conn.Row{
		{Timestamp: ts1, Tick: 1, Proto: "tcp", Family: "ipv4",
			LocalAddr: ip("10.0.0.5"), LocalPort: 51234, RemoteAddr: ip("93.184.216.34"), RemotePort: 443,
			PID: 1234, Comm: "curl", State: "ESTABLISHED",
			BytesIn: 5120, BytesOut: 1024, PacketsIn: 12, PacketsOut: 9,
			BytesInDelta: 5120, BytesOutDelta: 1024, PacketsInDelta: 12, PacketsOutDelta: 9,
			RateIn: 1234.5, RateOut: 500, RTTMicros: 850},
		{Timestamp: ts1, Tick: 1, Proto: "udp", Family: "ipv4",
			LocalAddr: ip("192.168.1.10"), LocalPort: 53124, RemoteAddr: ip("8.8.8.8"), RemotePort: 53,
			PID: 812, Comm: "systemd-resolve", State: "",
			BytesIn: 512, BytesOut: 40, PacketsIn: 1, PacketsOut: 1,
			BytesInDelta: 512, BytesOutDelta: 40, PacketsInDelta: 1, PacketsOutDelta: 1,
			RateIn: 512, RateOut: 40},
		{Timestamp: ts1, Tick: 1, Proto: "tcp", Family: "ipv4",
			LocalAddr: ip("127.0.0.1"), LocalPort: 5432, RemoteAddr: ip("127.0.0.1"), RemotePort: 40112,
			PID: 0, Comm: "", State: "ESTABLISHED",
			BytesIn: 0, BytesOut: 0, PacketsIn: 3456, PacketsOut: 3400,
			RTTMicros: 45, Retrans: 2, Partial: true},
		{Timestamp: ts1, Tick: 1, Proto: "tcp", Family: "ipv4",
			LocalAddr: ip("10.0.0.5"), LocalPort: 22, RemoteAddr: ip("10.0.0.9"), RemotePort: 60000,
			PID: 4321, Comm: `a,b"c`, State: "FIN_WAIT1",
			BytesIn: 7654321, BytesOut: 3 << 20, PacketsIn: 5000, PacketsOut: 4000,
			BytesInDelta: 1000, BytesOutDelta: 2000, PacketsInDelta: 10, PacketsOutDelta: 20,
			RateIn: 0.25, RateOut: 348160, RTTMicros: 12345},
	})
}

// tick3 adds IPv6 (which widens the text columns), a closed flow, a flow
// both partial and closed, and counters near their limits.
func tick3() []conn.Row {
	rows := tick1()
	for i := range rows {
		rows[i].Timestamp, rows[i].Tick = ts3, 3
		rows[i].DurationMillis += 2000
	}
	return append(rows, identify([]conn.Row{
		{Timestamp: ts3, Tick: 3, Proto: "tcp", Family: "ipv6",
			LocalAddr: ip("2001:db8::10"), LocalPort: 40000, RemoteAddr: ip("2606:4700:4700::1111"), RemotePort: 443,
			PID: 2200, Comm: "firefox", State: "ESTABLISHED",
			BytesIn: 1 << 30, BytesOut: 65536, PacketsIn: 750000, PacketsOut: 300000,
			BytesInDelta: 7654321, BytesOutDelta: 100, RateIn: 7654321, RateOut: 100, RTTMicros: 23456},
		{Timestamp: ts3, Tick: 3, Proto: "tcp", Family: "ipv4",
			LocalAddr: ip("10.0.0.5"), LocalPort: 51300, RemoteAddr: ip("10.0.0.7"), RemotePort: 8080,
			PID: 99, Comm: "wget", State: "CLOSE",
			BytesIn: 2048, BytesOut: 300, PacketsIn: 6, PacketsOut: 5,
			RTTMicros: 1_200_000, Retrans: 1, Closed: true},
		{Timestamp: ts3, Tick: 3, Proto: "tcp", Family: "ipv4",
			LocalAddr: ip("10.0.0.5"), LocalPort: 443, RemoteAddr: ip("203.0.113.200"), RemotePort: 65535,
			PID: 4194304, Comm: "backup-agent", State: "LAST_ACK",
			BytesIn: 9_223_372_036_854_775_807, BytesOut: 1_099_511_627_776,
			PacketsIn: 9_876_543_210, PacketsOut: 1_234_567_890,
			BytesInDelta: 1_073_741_824, BytesOutDelta: 1, PacketsInDelta: 700000, PacketsOutDelta: 1,
			RateIn: 1_073_741_824, RateOut: 0.5, RTTMicros: 999_999, Retrans: 123456,
			Partial: true, Closed: true},
	})...)
}

// identify gives the fixtures the identity fields: the host's network
// namespace, cgroups of systemd services and a container, a direction,
// a start (the third row's is when tcptop first saw it) and duration, and
// the Community ID of each flow.
func identify(rows []conn.Row) []conn.Row {
	const ctr = "3f3c4a3b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
	for i := range rows {
		r := &rows[i]
		r.NetNS, r.UID = 4026531840, 1000
		if r.PID == 0 {
			r.UID = -1
		}
		switch r.Comm {
		case "curl", "firefox", "wget":
			r.CgroupID, r.Cgroup = 8412, "/user.slice/user-1000.slice/session-2.scope"
		case "systemd-resolve":
			r.CgroupID, r.Cgroup, r.UID = 2177, "/system.slice/systemd-resolved.service", 991
		case "":
		default:
			r.NetNS, r.CgroupID = 4026532481, 9120
			r.Cgroup, r.ContainerID = "/system.slice/docker-"+ctr+".scope", ctr
		}
		if r.Proto == "tcp" {
			r.Direction = "out"
			if r.LocalPort < 1024 || r.Partial {
				r.Direction = "in"
			}
		}
		dir := map[string]conn.Direction{"out": conn.DirOut, "in": conn.DirIn}[r.Direction]
		r.ServicePort = dir.ServicePort(r.LocalPort, r.RemotePort)
		r.Start = r.Timestamp.Add(-time.Duration(1500+250*i) * time.Millisecond).Truncate(time.Microsecond)
		r.DurationMillis = r.Timestamp.Sub(r.Start).Milliseconds()
		r.CommunityID = conn.CommunityID(map[string]conn.Proto{"tcp": conn.TCP, "udp": conn.UDP}[r.Proto],
			netip.AddrPortFrom(r.LocalAddr, uint16(r.LocalPort)), netip.AddrPortFrom(r.RemoteAddr, uint16(r.RemotePort)))
	}
	return rows
}

// ticks is what each golden file records: two ticks with an empty one
// between them, which must write nothing.
func ticks() [][]conn.Row { return [][]conn.Row{tick1(), nil, tick3()} }

// countingWriter records each Write separately.
type countingWriter struct{ writes [][]byte }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

// render writes ticks in format and returns the output, checking that
// every tick was one Write of whole lines.
func render(t *testing.T, format string, header bool, ticks [][]conn.Row) string {
	t.Helper()
	var cw countingWriter
	w, err := New(format, &cw, header)
	if err != nil {
		t.Fatal(err)
	}
	for i, rows := range ticks {
		before := len(cw.writes)
		if err := writeTick(w, int64(i+1), rows); err != nil {
			t.Fatalf("%s tick %d: %v", format, i, err)
		}
		if n := len(cw.writes) - before; n > 1 || (len(rows) > 0 && n != 1) {
			t.Errorf("%s tick %d (%d rows): %d writes, want one", format, i, len(rows), n)
		}
		if n := len(cw.writes); n > before && !bytes.HasSuffix(cw.writes[n-1], []byte("\n")) {
			t.Errorf("%s tick %d: write does not end a line", format, i)
		}
	}
	return string(bytes.Join(cw.writes, nil))
}

// writeTick writes rows as tick n (the rows' own tick and time if any).
func writeTick(w Writer, n int64, rows []conn.Row) error {
	tick := Tick{N: n, Time: ts1}
	if len(rows) > 0 {
		tick = Tick{N: rows[0].Tick, Time: rows[0].Timestamp}
	}
	if err := w.Begin(tick); err != nil {
		return err
	}
	for i := range rows {
		if err := w.Row(&rows[i]); err != nil {
			return err
		}
	}
	return w.End()
}

func TestGolden(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) { golden(t, format+".golden", render(t, format, true, ticks())) })
	}
}

func TestNewUnknownFormat(t *testing.T) {
	_, err := New("yaml", &bytes.Buffer{}, true)
	if err == nil || !strings.Contains(err.Error(), `"yaml"`) || !strings.Contains(err.Error(), "text, ndjson, csv") {
		t.Errorf("New(yaml) error = %v, want it to name the format and the choices", err)
	}
}

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

func TestWriteErrorIsReturned(t *testing.T) {
	for _, format := range Formats() {
		w, err := New(format, brokenPipe{}, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeTick(w, 1, tick1()); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("%s: write error = %v, want EPIPE", format, err)
		}
		if err := writeTick(w, 2, tick1()); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("%s: the write error did not stick: %v", format, err)
		}
	}
}

func TestEmptyTicksWriteNothing(t *testing.T) {
	for _, format := range Formats() {
		if got := render(t, format, false, [][]conn.Row{nil, {}}); got != "" {
			t.Errorf("%s without header: empty ticks wrote %q", format, got)
		}
	}
}

// TestChunks checks that a large tick is handed over in chunks of at most
// chunkSize bytes, each ending a line, that together are the whole tick.
func TestChunks(t *testing.T) {
	rows := benchRows() // about 600 KiB of NDJSON
	for _, format := range Formats() {
		var cw countingWriter
		w, _ := New(format, &cw, true)
		if err := writeTick(w, 1, rows); err != nil {
			t.Fatal(err)
		}
		if len(cw.writes) < 3 {
			t.Errorf("%s: %d writes for %d rows, want several chunks", format, len(cw.writes), len(rows))
		}
		lines := 0
		for i, p := range cw.writes {
			if len(p) > chunkSize || !bytes.HasSuffix(p, []byte("\n")) {
				t.Errorf("%s: write %d has %d bytes, ends %q", format, i, len(p), p[len(p)-1:])
			}
			lines += bytes.Count(p, []byte("\n"))
		}
		if want := len(rows) + map[string]int{"ndjson": 0, "csv": 1, "text": 2}[format]; lines != want {
			t.Errorf("%s: %d lines, want %d", format, lines, want)
		}
	}
}

// chunkTaker takes chunks over as internal/run's stdout does. It holds
// the last two as they were handed over, checking at each hand-over that
// they are untouched; then it scribbles over a chunk and hands it back as
// a buffer to fill, so a writer that kept using a chunk it handed over
// shows.
type chunkTaker struct {
	taken   [][]byte // copies of every chunk, as handed over
	held    [][]byte // the last chunks, themselves
	spare   [][]byte
	touched int // hand-overs that found a held chunk changed
	err     error
}

func (c *chunkTaker) Write(p []byte) (int, error) {
	b, err := c.TakeChunk(append([]byte(nil), p...))
	c.spare = append(c.spare, b)
	return len(p), err
}

func (c *chunkTaker) TakeChunk(p []byte) ([]byte, error) {
	for i, h := range c.held {
		if !bytes.Equal(h, c.taken[len(c.taken)-len(c.held)+i]) {
			c.touched++
		}
	}
	c.taken = append(c.taken, bytes.Clone(p))
	c.held = append(c.held, p)
	if len(c.held) > 2 {
		old := c.held[0]
		c.held = c.held[1:]
		for i := range old {
			old[i] = '#'
		}
		c.spare = append(c.spare, old)
	}
	var next []byte
	if len(c.spare) > 0 {
		next, c.spare = c.spare[0], c.spare[1:]
	}
	return next[:0], c.err
}

// TestChunksTakenOver checks that a writer to a ChunkTaker hands over
// chunks of whole lines, larger than those it writes, and writes with
// them exactly what it writes to a plain io.Writer; and that the taker's
// error sticks.
func TestChunksTakenOver(t *testing.T) {
	rows := benchRows()
	rows = append(rows, rows...) // past takenChunkSize several times
	for _, format := range Formats() {
		var plain bytes.Buffer
		pw, _ := New(format, &plain, true)
		var taker chunkTaker
		tw, _ := New(format, &taker, true)
		for tick := int64(1); tick <= 3; tick++ {
			if err := writeTick(pw, tick, rows); err != nil {
				t.Fatal(err)
			}
			if err := writeTick(tw, tick, rows); err != nil {
				t.Fatal(err)
			}
		}
		if got := bytes.Join(taker.taken, nil); !bytes.Equal(got, plain.Bytes()) {
			t.Errorf("%s: the chunks taken over are not what a plain writer got (%d bytes against %d)", format, len(got), plain.Len())
		}
		if taker.touched > 0 {
			t.Errorf("%s: %d hand-overs found a chunk handed over earlier changed", format, taker.touched)
		}
		if len(taker.taken) < 6 {
			t.Errorf("%s: %d chunks for three ticks of %d rows, want several", format, len(taker.taken), len(rows))
		}
		for i, p := range taker.taken {
			if len(p) > takenChunkSize || !bytes.HasSuffix(p, []byte("\n")) {
				t.Errorf("%s: chunk %d has %d bytes, ends %q", format, i, len(p), p[len(p)-1:])
			}
		}
		broken := chunkTaker{err: syscall.EPIPE}
		bw, _ := New(format, &broken, true)
		if err := writeTick(bw, 1, rows); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("%s: the taker's error = %v, want EPIPE", format, err)
		}
		if err := writeTick(bw, 2, rows); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("%s: the taker's error did not stick: %v", format, err)
		}
	}
}
