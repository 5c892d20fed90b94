package run

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
)

// health makes the --stats records (docs/fields.md, Stats records).
type health struct {
	interval   time.Duration
	prevRead   time.Time // the previous tick's read of the kernel, or the start
	prevJoined int64     // ticker.coalesced then
	late       int64
	rec        conn.Stats
}

func newHealth(interval time.Duration, start time.Time) *health {
	return &health{interval: interval, prevRead: start}
}

// statsRecord returns what makes the tick's --stats record, or nil
// without --stats.
func (t *ticker) statsRecord(tick emit.Tick) func(written int64) *conn.Stats {
	if t.health == nil {
		return nil
	}
	return func(written int64) *conn.Stats {
		h := t.health
		s := &h.rec
		*s = conn.Stats{Type: "stats", Timestamp: tick.Time, Tick: tick.N, Rows: written}
		t.kernelStats(s)
		s.TicksLate, s.TicksJoined = h.lateness(tick.Time, t.coalesced), t.coalesced
		s.CPUMillis, s.RSSBytes = cpuMillis(), rssBytes()
		return s
	}
}

// kernelStats fills in the flows tracked and the kernel side's table
// fill and drops.
func (t *ticker) kernelStats(s *conn.Stats) {
	tcp, udp := t.agg.Lens()
	s.TCPFlows, s.UDPFlows = int64(tcp), int64(udp)
	s.Flows = s.TCPFlows + s.UDPFlows
	if st, err := t.src.Stats(); err == nil {
		s.TCPTableEntries, s.TCPTableSize = int64(st.TCPEntries), int64(st.TCPTableSize)
		s.UDPTableEntries, s.UDPTableSize = int64(st.UDPEntries), int64(st.UDPTableSize)
		s.TCPUntracked, s.UDPDropped = int64(st.TCPUntracked), int64(st.UDPTableFull)
		s.HotListFull, s.EventsLost = int64(st.HotListFull), int64(st.EventsLost)
		s.ClosesInferred, s.KprobeRunsSkipped = int64(st.ClosesInferred), int64(st.KprobeRunsSkipped)
		s.DropsUnattributed = int64(st.DropsUnattributed)
	}
}

// lateness counts the ticks whose read came more than half an interval
// after it was due: an interval after the previous read, plus one per
// tick joined in between (those are ticks_joined, not late).
func (h *health) lateness(read time.Time, joined int64) int64 {
	due := h.prevRead.Add(h.interval * time.Duration(1+joined-h.prevJoined))
	if read.Sub(due) > h.interval/2 {
		h.late++
	}
	h.prevRead, h.prevJoined = read, joined
	return h.late
}

// cpuMillis is the CPU time this process used, user and system.
func cpuMillis() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Sec*1000 + ru.Utime.Usec/1000 + ru.Stime.Sec*1000 + ru.Stime.Usec/1000
}

// rssBytes is this process's resident memory, from VmRSS.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return vmRSS(b)
}

func vmRSS(status []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// stats logs a --stats record, for CSV and text, whose streams cannot
// carry it: "tcptop: stats tick=3 rows=12 ..." with every field but type,
// or a JSON line whose msg is "stats" followed by the record's members
// as NDJSON writes them.
func (l Logger) stats(s *conn.Stats, timeFormat string) {
	if l.json {
		var b bytes.Buffer
		w, _ := emit.NewWith("ndjson", &b, emit.Options{Time: timeFormat})
		_ = w.(emit.StatsWriter).Stats(s)
		_ = w.End()
		l.log("info", "stats", bytes.TrimSuffix(bytes.TrimPrefix(b.Bytes(), []byte("{")), []byte("}\n")))
		return
	}
	var b strings.Builder
	b.WriteString("stats")
	v := reflect.ValueOf(s).Elem()
	for _, f := range conn.StatsFields[1:] {
		fmt.Fprintf(&b, " %s=", f.Name)
		if t, ok := v.Field(f.Index).Interface().(time.Time); ok {
			b.WriteString(t.UTC().Format("2006-01-02T15:04:05.000000Z"))
		} else {
			fmt.Fprint(&b, v.Field(f.Index).Interface())
		}
	}
	l.log("info", b.String(), nil)
}
