package agg

import (
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

func TestLimit(t *testing.T) {
	prev := diagPrev{chrono: [3]uint32{100, 50, 10}, jiffies: 1000}
	tests := []struct {
		name             string
		busy, rwnd, sbuf uint32 // gained since prev
		span             uint32
		sent             bool
		unacked, notsent uint32
		want             string
	}{
		{"nothing sent or queued", 0, 0, 0, 250, false, 0, 0, ""},
		{"busy most of the interval: the network", 200, 10, 0, 250, true, 0, 0, "cwnd"},
		{"the receiver's window", 20, 200, 0, 250, true, 100, 0, "rwnd"},
		{"the send buffer", 30, 0, 180, 250, true, 0, 5000, "sndbuf"},
		{"idle most of the interval: the application", 10, 0, 0, 250, true, 0, 0, "app"},
		{"nothing sent, but data still queued", 0, 240, 0, 250, false, 0, 70000, "rwnd"},
		{"jiffies wrapped", 200, 0, 0, 250, true, 0, 0, "cwnd"},
		// Not read again since prev (the batch fallback): the lifetime
		// shares, 100 busy against 50 and 10 limited.
		{"not read again: its life", 0, 0, 0, 0, true, 0, 0, "cwnd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prev
			if tt.name == "jiffies wrapped" {
				p.jiffies = 1<<32 - 100
			}
			d := diagState{unacked: tt.unacked, notsent: tt.notsent, jiffies: p.jiffies + tt.span,
				chrono: [3]uint32{p.chrono[0] + tt.busy, p.chrono[1] + tt.rwnd, p.chrono[2] + tt.sbuf}}
			if got := limit(&d, &p, tt.sent); got != tt.want {
				t.Errorf("limit = %q, want %q", got, tt.want)
			}
		})
	}
}

// A connection's first row, and a row without a read of its own, are
// measured over the connection's life: from its open where tcptop saw it,
// else from the kernel's lifetime times alone (issue 16: a snapshot of a
// stalled sender said "", and so did every tick it was not re-read).
func TestLimitOverLife(t *testing.T) {
	// Stalled on the receiver for 9000 of its 9400 jiffies, idle for
	// 100 000 before that.
	stalled := diagState{notsent: 943208, jiffies: 500000, chrono: [3]uint32{300, 9000, 100}}
	idle := diagState{unacked: 100, jiffies: 500000, chrono: [3]uint32{300, 0, 0}}
	tests := []struct {
		name string
		d    diagState
		p    *diagPrev
		sent bool
		want string
	}{
		{"first read, older than tcptop", stalled, &diagPrev{}, false, "rwnd"},
		{"not read this tick, data queued", stalled, nil, false, "rwnd"},
		{"not read this tick, nothing queued", diagState{jiffies: 500000, chrono: [3]uint32{300, 9000, 100}}, nil, false, ""},
		{"first read, seen open: idle most of its life", idle, &diagPrev{jiffies: 500000 - 2000}, true, "app"},
		{"first read, seen open: busy most of its life", idle, &diagPrev{jiffies: 500000 - 400}, true, "cwnd"},
		{"first read, older than tcptop: idle time unknown", idle, &diagPrev{}, true, "cwnd"},
		{"queued for less than a jiffy", diagState{notsent: 10, jiffies: 7}, &diagPrev{}, true, "app"},
		{"diagnostics never read", diagState{notsent: 10}, &diagPrev{}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := limit(&tt.d, tt.p, tt.sent); got != tt.want {
				t.Errorf("limit = %q, want %q", got, tt.want)
			}
		})
	}
}

// diag sets an observation's diagnostics: queued bytes, chrono times and
// the jiffies they were read at, and the open's jiffies (0: not seen).
func (o ob) diag(notsent uint32, chrono [3]uint32, read, open uint32) ob {
	o.Diag.NotsentBytes, o.Diag.Chrono, o.Diag.ChronoJiffies, o.Diag.OpenJiffies = notsent, chrono, read, open
	return o
}

// Through the aggregator: a sender stalled on its receiver before tcptop
// started is "rwnd" in its first row (its lifetime times) and in the
// ticks after, read or not; a request/response connection seen opening
// is "app" in its first row, measured from its open; not read again, it
// shows its lifetime busy time alone.
func TestLimitRows(t *testing.T) {
	limitOf := func(r conn.Row) string { return r.LocalAddr.String() + ":" + r.Limit }
	stalled := func(read uint32) ob {
		return tcp(1).addrs("10.0.0.1:1", "10.0.0.9:80").partial().diag(943208, [3]uint32{300, read - 100000 - 300, 0}, read, 0)
	}
	reqresp := tcp(2).addrs("10.0.0.2:2", "10.0.0.9:80").bytes(0, 400).diag(100, [3]uint32{30, 0, 0}, 52000, 50000)
	run(t, []step[string]{
		{now: at(1), obs: obs(stalled(200000), reqresp), want: []string{"10.0.0.2:app", "10.0.0.1:rwnd"}},
		// Not read in a tick with data queued (the hot list overflowed):
		// its life, whose idle time before tcptop is unknown.
		{now: at(2), obs: obs(stalled(201000)), want: []string{"10.0.0.1:rwnd", "10.0.0.2:cwnd"}},
		{now: at(3), obs: nil, want: []string{"10.0.0.1:rwnd", "10.0.0.2:cwnd"}},
	}, limitOf)
}
