package emit

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestIntRuns: fill copies at once only integer columns that follow each
// other both in the row and in the wire struct, so a --fields list that
// reorders or skips counters still gets each from its own field.
func TestIntRuns(t *testing.T) {
	byName := func(names ...string) []column {
		var fs []conn.Field
		for _, n := range names {
			f, ok := conn.FieldByName(n)
			if !ok {
				t.Fatalf("no field %s", n)
			}
			fs = append(fs, f)
		}
		return columnsOf(fs)
	}
	for _, tc := range []struct {
		names []string
		want  []int
	}{
		{[]string{"bytes_in", "bytes_out", "packets_in"}, []int{3, 2, 1}},
		{[]string{"bytes_out", "bytes_in", "packets_in"}, []int{1, 1, 1}},   // reordered: no run
		{[]string{"bytes_in", "packets_in", "packets_out"}, []int{1, 2, 1}}, // skips one
		{[]string{"proto", "tick", "bytes_in", "bytes_out"}, []int{0, 1, 2, 1}},
		{[]string{"local_port", "remote_addr", "remote_port", "pid"}, []int{1, 0, 2, 1}},
	} {
		rec := newGoccyRecord(byName(tc.names...), "", new([]byte))
		if !slices.Equal(rec.runs, tc.want) {
			t.Errorf("%v: runs %v, want %v", tc.names, rec.runs, tc.want)
		}
	}
}

// TestAddrMemo: an address column gives each row its own address's text
// when rows alternate between addresses, repeat one, or have none, in
// both writers' memos.
func TestAddrMemo(t *testing.T) {
	var m goccyAddrMemo
	var n addrMemo
	for _, a := range []netip.Addr{{}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.0.0.1"), {}, netip.MustParseAddr("::ffff:1.2.3.4")} {
		if got, want := m.textOf(a), string(appendAddr(nil, a)); got != want {
			t.Errorf("%v: %q, want %q", a, got, want)
		}
		if got, want := string(n.text(",\"a\":", a)), `,"a":"`+string(appendAddr(nil, a))+`"`; got != want {
			t.Errorf("%v: %q, want %q", a, got, want)
		}
	}
}
