package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptop/tcptop/internal/conn"
)

// rttBuckets are the upper bounds of the RTT histogram, in seconds: from
// loopback (tens of µs) through a LAN and a continent to a bad satellite
// link, about 2.5 per step.
var rttBuckets = [...]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// series holds the counters of one label set: live, which the tick loop
// adds to as rows come, and shown, what a scrape reads, a copy of live
// made under the sink's lock when a tick ends (so a scrape sees whole
// ticks). Every value only grows: it is fed deltas, never totals, so a
// connection that closes or a UDP flow that expires leaves what it added.
type series struct {
	values      []string
	live, shown counts
	dirty       bool // live moved since the last EndTick: shown is behind
}

// counts are a label set's counters at one moment.
type counts struct {
	bytesIn, bytesOut     int64
	packetsIn, packetsOut int64
	opened, closed        int64
	failed                int64
	retrans, lost         int64

	rttCounts [len(rttBuckets) + 1]uint64 // per bucket of rttBuckets, not cumulative; the last is +Inf
	rttSum    float64
	rttCount  uint64
}

func newSeries(values []string) *series { return &series{values: values} }

// counted says whether r adds anything to its series: it moved data or
// packets, retransmitted or lost a segment, or closed. Any other row
// (an idle connection's, a tick it did not move) adds only zeros, and
// an RTT is observed only in a tick that carried data, so the sink
// skips it before building its key.
func counted(r *conn.Row) bool {
	return r.BytesInDelta|r.BytesOutDelta|r.PacketsInDelta|r.PacketsOutDelta|r.RetransDelta|r.Lost != 0 || r.Closed
}

// add adds one row's deltas. opened says the row is the first of a TCP
// connection tcptop saw open.
func (s *counts) add(r *conn.Row, opened bool) {
	s.bytesIn += r.BytesInDelta
	s.bytesOut += r.BytesOutDelta
	s.packetsIn += r.PacketsInDelta
	s.packetsOut += r.PacketsOutDelta
	s.retrans += r.RetransDelta
	s.lost += r.Lost
	if opened {
		s.opened++
	}
	if r.Closed && r.Proto == "tcp" {
		s.closed++
		if r.Error != "" {
			s.failed++
		}
	}
	// The RTT of a connection that carried data in the tick, once per
	// tick: an idle connection's srtt is stale and would weigh the
	// histogram towards whatever sits open longest.
	if r.RTTMicros > 0 && r.BytesInDelta+r.BytesOutDelta > 0 {
		s.observeRTT(float64(r.RTTMicros) / 1e6)
	}
}

func (s *counts) observeRTT(v float64) {
	i := 0
	for i < len(rttBuckets) && v > rttBuckets[i] {
		i++
	}
	s.rttCounts[i]++
	s.rttSum += v
	s.rttCount++
}

// flowDesc are the descriptions of the flow series, in the order collect
// writes them.
type flowDescs struct {
	bytesIn, bytesOut, packetsIn, packetsOut *prometheus.Desc
	opened, closed, failed, retrans, lost    *prometheus.Desc
	rtt                                      *prometheus.Desc
}

func newFlowDescs(labels []string) flowDescs {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, labels, nil) }
	return flowDescs{
		bytesIn:    d("tcptop_received_bytes_total", "Payload bytes received by applications (bytes_in_delta summed)."),
		bytesOut:   d("tcptop_sent_bytes_total", "Payload bytes sent by applications (bytes_out_delta summed)."),
		packetsIn:  d("tcptop_received_packets_total", "TCP segments and UDP datagrams received (packets_in_delta summed)."),
		packetsOut: d("tcptop_sent_packets_total", "TCP segments and UDP datagrams sent (packets_out_delta summed)."),
		opened:     d("tcptop_connections_opened_total", "TCP connections tcptop saw open (connect or accept; not those older than tcptop)."),
		closed:     d("tcptop_connections_closed_total", "TCP connections closed (their closed record)."),
		failed:     d("tcptop_connections_failed_total", "TCP connections closed with an error (refused, timeout, reset, ...)."),
		retrans:    d("tcptop_retransmitted_segments_total", "TCP segments retransmitted (retrans_delta summed)."),
		lost:       d("tcptop_lost_segments_total", "TCP segments the kernel marked lost (lost summed)."),
		rtt:        d("tcptop_rtt_seconds", "Smoothed RTT of TCP connections, one observation per connection per tick in which it carried data."),
	}
}

func (d flowDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.bytesIn, d.bytesOut, d.packetsIn, d.packetsOut, d.opened, d.closed, d.failed, d.retrans, d.lost, d.rtt} {
		ch <- x
	}
}

// collect writes the metrics of one series.
func (d flowDescs) collect(ch chan<- prometheus.Metric, g *series) {
	s := &g.shown
	counter := func(desc *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), g.values...)
	}
	counter(d.bytesIn, s.bytesIn)
	counter(d.bytesOut, s.bytesOut)
	counter(d.packetsIn, s.packetsIn)
	counter(d.packetsOut, s.packetsOut)
	counter(d.opened, s.opened)
	counter(d.closed, s.closed)
	counter(d.failed, s.failed)
	counter(d.retrans, s.retrans)
	counter(d.lost, s.lost)
	buckets := make(map[float64]uint64, len(rttBuckets))
	var cum uint64
	for i, ub := range rttBuckets {
		cum += s.rttCounts[i]
		buckets[ub] = cum
	}
	ch <- prometheus.MustNewConstHistogram(d.rtt, s.rttCount, s.rttSum, buckets, g.values...)
}
