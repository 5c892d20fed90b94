package conn

import (
	"reflect"
	"time"
)

// Stats is the record --stats adds to each tick: how tcptop itself is
// doing. Counters "since start" only grow; the rest are as of the tick.
type Stats struct {
	Type      string    `json:"type" doc:"Always \"stats\": what tells this record from a flow or grouped row, which have no type key."`
	Timestamp time.Time `json:"timestamp" doc:"When the tick's counters were read, as in the tick's rows (see --time-format)."`
	Tick      int64     `json:"tick" doc:"The tick, as in its rows."`

	Rows     int64 `json:"rows" doc:"Records written this tick: flow rows that passed --where, or grouped rows with --group-by."`
	Flows    int64 `json:"flows" doc:"Flows tcptop tracks after this tick: TCP connections and UDP flows known (tcp_flows + udp_flows)."`
	TCPFlows int64 `json:"tcp_flows" doc:"TCP connections tracked."`
	UDPFlows int64 `json:"udp_flows" doc:"UDP flows tracked."`

	TCPTableEntries int64 `json:"tcp_table_entries" doc:"Entries in the kernel's TCP connection table now: its fill, against tcp_table_size. A full table leaves new connections untracked (tcp_untracked)."`
	TCPTableSize    int64 `json:"tcp_table_size" doc:"Capacity of the kernel's TCP connection table."`
	UDPTableEntries int64 `json:"udp_table_entries" doc:"Entries in the kernel's UDP flow table now, against udp_table_size. A full table drops datagrams from the counts (udp_dropped)."`
	UDPTableSize    int64 `json:"udp_table_size" doc:"Capacity of the kernel's UDP flow table."`

	TCPUntracked      int64 `json:"tcp_untracked" doc:"TCP connections the kernel side could not track (its table was full) since start: their counters are read from the sockets each tick instead."`
	UDPDropped        int64 `json:"udp_dropped" doc:"UDP datagrams not counted since start: the UDP flow table was full."`
	HotListFull       int64 `json:"hot_list_full" doc:"Times since start a connection's news waited for the next sweep (every 10 s) because the list of connections that moved was full."`
	EventsLost        int64 `json:"events_lost" doc:"Close records since start that found the ring buffer full (they are read from the table instead: no row is lost)."`
	ClosesInferred    int64 `json:"closes_inferred" doc:"Closes since start whose close programs the kernel skipped (it runs a tracing program at most once per CPU at a time: under preemptible kernels a task preempted inside one makes others skip it), found by the next reads when the socket was released: reported with the counters of the connection's last call and read, and the time they were found. No row is lost."`
	DropsUnattributed int64 `json:"drops_unattributed" doc:"Packets the kernel dropped since start that no flow tcptop tracks could take, so in no row's drops: TCP packets of no connection in the kernel table (a port scan refused, forwarded packets, a connection the table had no room for), packets that came after their connection's close, and UDP datagrams to a port with no flow of their sender nor a flow with no peer (a socket that never received, or one the flow table had no room for)."`
	KprobeRunsSkipped int64 `json:"kprobe_runs_skipped" doc:"Runs of tcptop's send and receive kprobes that the kernel skipped since start (the kprobe path only; 0 elsewhere, and before Linux 6.7, which does not count them). A kprobe is skipped on a CPU where a task was preempted inside a BPF map syscall, on kernels that preempt tasks in the kernel: tcptop's own tick runs at real-time priority there so its reads do not cause it (tcptop --check: tick priority), but another program's can. Each skipped run is a send or receive missing from the live counts; a TCP connection's totals are settled from the kernel's counters when it closes."`
	TicksLate         int64 `json:"ticks_late" doc:"Ticks since start that began more than half an interval after the previous tick's end was due: tcptop's own work, or the machine, held them up."`
	TicksJoined       int64 `json:"ticks_joined" doc:"Ticks since start that were joined into the next because the reader of stdout fell behind (the next covers their time)."`
	CPUMillis         int64 `json:"cpu_ms" doc:"CPU time tcptop used since start, user and system, in milliseconds (getrusage)."`
	RSSBytes          int64 `json:"rss_bytes" doc:"tcptop's resident memory now, in bytes (VmRSS of /proc/self/status)."`
}

// StatsFields is the schema of Stats records, in output order.
var StatsFields = taggedFields(reflect.TypeFor[Stats](), 0)
