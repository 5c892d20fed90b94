package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptop/tcptop/internal/conn"
)

// Health is what a tick tells about tcptop itself.
type Health struct {
	// Read is when the tick read the kernel's counters (its rows'
	// timestamp).
	Read time.Time
	// Took is the tick's work: the read, the rows and their output.
	Took time.Duration
	// Stats has the flows tracked, the kernel tables' fill and the
	// drops and lost events since start (the --stats record's fields;
	// Rows, TicksLate and the process's own numbers are not used).
	Stats conn.Stats
}

// healthDescs describe tcptop's own series.
type healthDescs struct {
	ticks, rows, flows, tableEntries, tableSize *prometheus.Desc
	untracked, udpDropped, hotListFull, lost    *prometheus.Desc
	closesInferred, kprobeRunsSkipped           *prometheus.Desc
	dropsUnattributed                           *prometheus.Desc
	joined, series, maxSeries, overflow         *prometheus.Desc
}

func newHealthDescs() healthDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return healthDescs{
		ticks:             d("tcptop_ticks_total", "Ticks done: reads of the kernel's counters."),
		rows:              d("tcptop_rows_total", "Flow rows counted in the flow series: those that passed --where."),
		flows:             d("tcptop_flows", "Flows tracked after the last tick.", "proto"),
		tableEntries:      d("tcptop_kernel_table_entries", "Entries in the kernel side's flow table now.", "proto"),
		tableSize:         d("tcptop_kernel_table_capacity_entries", "Capacity of the kernel side's flow table.", "proto"),
		untracked:         d("tcptop_tcp_untracked_connections_total", "TCP connections the kernel side could not track (its table was full); read from the sockets each tick instead."),
		udpDropped:        d("tcptop_udp_dropped_datagrams_total", "UDP datagrams not counted: the UDP flow table was full."),
		hotListFull:       d("tcptop_hot_list_full_total", "Times a connection's news waited for the next sweep because the list of connections that moved was full."),
		lost:              d("tcptop_lost_events_total", "Close events that found the ring buffer full (read from the table instead: no row is lost)."),
		closesInferred:    d("tcptop_inferred_closes_total", "Closes whose close programs the kernel skipped, found when the socket was released (no row is lost)."),
		dropsUnattributed: d("tcptop_unattributed_drops_total", "Packets the kernel dropped that no tracked flow could take (in no flow's drops)."),
		kprobeRunsSkipped: d("tcptop_kprobe_runs_skipped_total", "Runs of the send/receive kprobes the kernel skipped (kprobe path, 6.7+): sends and receives missing from the live counts until their connections close."),
		joined:            d("tcptop_joined_ticks_total", "Ticks joined into the next because the reader of stdout fell behind."),
		series:            d("tcptop_metrics_series", "Label sets of the flow series, the other series included."),
		maxSeries:         d("tcptop_metrics_max_series", "--max-series: the most label sets the flow series get."),
		overflow:          d("tcptop_metrics_overflow_rows_total", "Flow rows counted in the other series because --max-series label sets existed already."),
	}
}

func (d healthDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.ticks, d.rows, d.flows, d.tableEntries, d.tableSize, d.untracked,
		d.udpDropped, d.hotListFull, d.lost, d.closesInferred, d.kprobeRunsSkipped, d.dropsUnattributed, d.joined, d.series, d.maxSeries, d.overflow} {
		ch <- x
	}
}

// healthState is what collect writes; the sink's lock guards it.
type healthState struct {
	ticks, rows, overflow int64
	stats                 conn.Stats
}

func (d healthDescs) collect(ch chan<- prometheus.Metric, h *healthState, series, maxSeries int) {
	m := func(desc *prometheus.Desc, t prometheus.ValueType, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, t, float64(v), labels...)
	}
	c, g := prometheus.CounterValue, prometheus.GaugeValue
	st := &h.stats
	m(d.ticks, c, h.ticks)
	m(d.rows, c, h.rows)
	m(d.flows, g, st.TCPFlows, "tcp")
	m(d.flows, g, st.UDPFlows, "udp")
	m(d.tableEntries, g, st.TCPTableEntries, "tcp")
	m(d.tableEntries, g, st.UDPTableEntries, "udp")
	m(d.tableSize, g, st.TCPTableSize, "tcp")
	m(d.tableSize, g, st.UDPTableSize, "udp")
	m(d.untracked, c, st.TCPUntracked)
	m(d.udpDropped, c, st.UDPDropped)
	m(d.hotListFull, c, st.HotListFull)
	m(d.lost, c, st.EventsLost)
	m(d.closesInferred, c, st.ClosesInferred)
	m(d.kprobeRunsSkipped, c, st.KprobeRunsSkipped)
	m(d.dropsUnattributed, c, st.DropsUnattributed)
	m(d.joined, c, st.TicksJoined)
	m(d.series, g, int64(series))
	m(d.maxSeries, g, int64(maxSeries))
	m(d.overflow, c, h.overflow)
}
