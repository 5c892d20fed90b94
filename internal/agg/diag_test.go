package agg

import "testing"

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
		{"sent within a jiffy", 0, 0, 0, 0, true, 0, 0, "app"},
		{"jiffies wrapped", 200, 0, 0, 250, true, 0, 0, "cwnd"},
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
	if got := limit(&diagState{jiffies: 5}, &diagPrev{}, true); got != "" {
		t.Errorf("first read: limit %q, want none", got)
	}
}
