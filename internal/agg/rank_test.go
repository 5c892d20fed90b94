package agg

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

func TestParseOrderUnknownFieldListsNames(t *testing.T) {
	for _, spec := range []string{"bogus", "rate_in,bogus", " ", "rate_in,", "--pid"} {
		_, err := ParseOrder(spec)
		if err == nil || !strings.Contains(err.Error(), "rate_in, rate_out") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseOrder(%q) = %v, want one line listing the fields", spec, err)
		}
	}
}

func TestEmptyOrderIsZero(t *testing.T) {
	if o, err := ParseOrder(""); err != nil || !o.IsZero() {
		t.Errorf("ParseOrder(\"\") = %v, %v; want the zero Order", o, err)
	}
}

func TestEveryFieldSorts(t *testing.T) {
	for _, f := range conn.Fields {
		if _, err := ParseOrder(f.Name); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
}

func rankRows() []conn.Row {
	ip := netip.MustParseAddr
	return []conn.Row{
		{Comm: "b", PID: 2, RateIn: 10, RemoteAddr: ip("10.0.0.2"), Closed: true},
		{Comm: "a", PID: 1, RateIn: 30, RemoteAddr: ip("::1")},
		{Comm: "c", PID: 3, RateIn: 10, RemoteAddr: ip("10.0.0.10")},
		{Comm: "a", PID: 4, RateIn: 20, RemoteAddr: ip("9.0.0.1")},
	}
}

func ranked(t *testing.T, spec string, top int, rows []conn.Row) []int {
	t.Helper()
	o, err := ParseOrder(spec)
	if err != nil {
		t.Fatal(err)
	}
	k := NewRanker(o, top)
	for i := range rows {
		k.Add(&rows[i])
	}
	var pids []int
	if err := k.Each(func(r *conn.Row) error { pids = append(pids, r.PID); return nil }); err != nil {
		t.Fatal(err)
	}
	return pids
}

func TestRankerOrders(t *testing.T) {
	for _, tt := range []struct {
		spec string
		top  int
		want []int
	}{
		{"rate_in", 0, []int{1, 4, 2, 3}},      // descending; a tie keeps the order rows came in
		{"-rate_in", 0, []int{2, 3, 4, 1}},     // ascending
		{"-comm,pid", 0, []int{4, 1, 2, 3}},    // then by the next field
		{"-remote_addr", 0, []int{4, 2, 3, 1}}, // addresses as addresses, IPv4 first
		{"closed,-pid", 0, []int{2, 1, 3, 4}},  // true first when descending
		{"rate_in", 2, []int{1, 4}},            // the best two
		{"-rate_in", 3, []int{2, 3, 4}},        // ties kept in arrival order under a top
		{"rate_in", 10, []int{1, 4, 2, 3}},     // a top larger than the tick
		{"tick", 0, []int{2, 1, 3, 4}},         // all equal: as they came
	} {
		if got := ranked(t, tt.spec, tt.top, rankRows()); !slices.Equal(got, tt.want) {
			t.Errorf("--sort %s --top %d: pids %v, want %v", tt.spec, tt.top, got, tt.want)
		}
	}
}

// TestRankerTopMatchesFullSort: the heap keeps exactly the first N of a
// full stable sort, on random rows with many ties.
func TestRankerTopMatchesFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	o, _ := ParseOrder("rate_out,-comm")
	for range 200 {
		rows := make([]conn.Row, r.IntN(50))
		for i := range rows {
			rows[i] = conn.Row{PID: i, RateOut: float64(r.IntN(5)), Comm: string(rune('a' + r.IntN(3)))}
		}
		full := slices.Clone(rows)
		slices.SortStableFunc(full, func(x, y conn.Row) int { return o.Compare(&x, &y) })
		top := r.IntN(10) + 1
		var want []int
		for _, row := range full[:min(top, len(full))] {
			want = append(want, row.PID)
		}
		if got := ranked(t, o.String(), top, rows); !slices.Equal(got, want) {
			t.Fatalf("top %d of %d: %v, want %v", top, len(rows), got, want)
		}
	}
}

func TestRankerKeepsAtMostTop(t *testing.T) {
	k := NewRanker(Order{}, 3)
	k.order, _ = ParseOrder("pid")
	for i := range 1000 {
		k.Add(&conn.Row{PID: i})
	}
	if len(k.rows) != 3 {
		t.Errorf("%d rows kept, want 3", len(k.rows))
	}
}

// owned is r with every string copied: a reference that no buffer of the
// aggregator's can change.
func owned(r conn.Row) conn.Row {
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(strings.Clone(f.String()))
		}
	}
	return r
}

// TestRankedRowsOwnTheirFields: rows copied by the Ranker (--sort, with
// or without --top) are, field for field, the rows the aggregator handed
// out, also after the next tick: a row owns its strings (tcptop --sort
// once gave every row of a tick the last row's community_id).
func TestRankedRowsOwnTheirFields(t *testing.T) {
	a := New(Config{Start: t0, CommunityID: true})
	flows := func(scale uint64) []conn.Observation {
		return obs(
			tcp(80).bytes(1*scale, 5*scale).pid(1, "curl"),
			tcp(443).bytes(2*scale, 3*scale).pid(2, "wget").cc("bbr", ""),
			tcp(8080).addrs("[fd00::1]:40001", "[fd00::2]:8080").bytes(3*scale, 9*scale).pid(3, "nginx"),
			udp(53).bytes(4*scale, 1*scale).pid(4, "dig").owner(7, 1000, 0),
			udp(123).bytes(0, 2*scale).pid(5, "chronyd"),
		)
	}
	type tick struct {
		want, got []conn.Row
	}
	var ticks []tick
	for n, spec := range []struct {
		sort string
		top  int
	}{{"rate_out", 0}, {"-community_id,pid", 0}, {"rate_in", 2}, {"-pid", 4}} {
		a.Tick(conn.Snapshot{Time: at(float64(n + 1)), Obs: flows(uint64(n + 1))})
		var tk tick
		for _, r := range rowsOf(t, a, false) {
			tk.want = append(tk.want, owned(r))
		}
		o, err := ParseOrder(spec.sort)
		if err != nil {
			t.Fatal(err)
		}
		k := NewRanker(o, spec.top)
		if err := a.Each(false, func(r *conn.Row) error { k.Add(r); return nil }); err != nil {
			t.Fatal(err)
		}
		_ = k.Each(func(r *conn.Row) error { tk.got = append(tk.got, *r); return nil })
		if want := cmp.Or(spec.top, len(tk.want)); len(tk.got) != want {
			t.Fatalf("--sort %s --top %d: %d rows, want %d", spec.sort, spec.top, len(tk.got), want)
		}
		ticks = append(ticks, tk)
	}
	// Checked after every tick is done: rows kept from an earlier tick
	// (the live screen keeps them) must not change either.
	for n, tk := range ticks {
		for _, got := range tk.got {
			i := slices.IndexFunc(tk.want, func(w conn.Row) bool { return w.PID == got.PID })
			if i < 0 {
				t.Fatalf("tick %d: ranked a row of pid %d the aggregator did not hand out", n+1, got.PID)
			}
			if want := tk.want[i]; !reflect.DeepEqual(got, want) {
				t.Errorf("tick %d, pid %d: ranked row differs from the row handed out:\n got %+v\nwant %+v", n+1, got.PID, got, want)
			}
			local := netip.AddrPortFrom(got.LocalAddr, uint16(got.LocalPort))
			remote := netip.AddrPortFrom(got.RemoteAddr, uint16(got.RemotePort))
			proto := map[string]conn.Proto{"tcp": conn.TCP, "udp": conn.UDP}[got.Proto]
			if want := conn.CommunityID(proto, local, remote); got.CommunityID != want {
				t.Errorf("tick %d, pid %d: community_id %q, want %q", n+1, got.PID, got.CommunityID, want)
			}
		}
	}
}
