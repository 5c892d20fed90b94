package conn

import (
	"net/netip"
	"time"
)

// Row is one output record: one flow at one tick. It is the single
// definition of tcptop's schema. The `json` tag is the name used in NDJSON
// keys, the CSV header, text columns and docs/fields.md; the `expr` tag
// (always equal to it, enforced by a test) is the name in --where; `doc`
// is its documentation. Field order is output order.
type Row struct {
	Timestamp time.Time `json:"timestamp" expr:"timestamp" doc:"When the counters of this tick were read, UTC, RFC 3339 with a fixed six-digit fraction (2026-01-02T15:04:05.000000Z). In --where it is a time: compare it with date(\"...\") or now() - duration(\"1m\"); compared with a string, or with startsWith, it is this text."`
	Tick      int64     `json:"tick" expr:"tick" doc:"Tick number, starting at 1."`
	Proto     string    `json:"proto" expr:"proto" doc:"Transport protocol: \"tcp\" or \"udp\"."`
	Family    string    `json:"family" expr:"family" doc:"Address family: \"ipv4\" or \"ipv6\". IPv4-mapped IPv6 addresses count as ipv4."`

	LocalAddr  netip.Addr `json:"local_addr" expr:"local_addr" doc:"Local IP address (IPv4-mapped IPv6 shown as IPv4; 0.0.0.0 or :: for a UDP socket bound to any address)."`
	LocalPort  int        `json:"local_port" expr:"local_port" doc:"Local port."`
	RemoteAddr netip.Addr `json:"remote_addr" expr:"remote_addr" doc:"Remote IP address. For UDP, the peer of this flow (an unconnected socket has one flow per peer)."`
	RemotePort int        `json:"remote_port" expr:"remote_port" doc:"Remote port."`

	PID   int    `json:"pid" expr:"pid" doc:"Process (thread group) ID that last sent or received on the socket, taken in process context; 0 if no process has touched it since tcptop started and its owner could not be found in /proc."`
	Comm  string `json:"comm" expr:"comm" doc:"Process name (kernel comm, at most 15 characters) of pid."`
	State string `json:"state" expr:"state" doc:"Kernel TCP state name: SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING, and CLOSE on the closed record (the kernel hands TIME_WAIT to a separate minisocket after the connection's socket closes, so a connection's last record is CLOSE); \"\" for UDP."`

	BytesIn    int64 `json:"bytes_in" expr:"bytes_in" doc:"Payload bytes received by the application (return values of recv calls) over the flow's life: for a TCP connection older than tcptop (partial), including what it received before tcptop started; for UDP, since tcptop started. Never goes backwards."`
	BytesOut   int64 `json:"bytes_out" expr:"bytes_out" doc:"Payload bytes sent by the application (return values of send calls), counted as bytes_in."`
	PacketsIn  int64 `json:"packets_in" expr:"packets_in" doc:"TCP: segments received over the connection's life, the kernel's segs_in counter (as in ss -ti), carried past its 32-bit wrap. UDP: datagrams received since tcptop started. Never goes backwards."`
	PacketsOut int64 `json:"packets_out" expr:"packets_out" doc:"TCP: segments sent, the kernel's segs_out counter, carried past its 32-bit wrap. UDP: datagrams sent since tcptop started."`

	BytesInDelta    int64 `json:"bytes_in_delta" expr:"bytes_in_delta" doc:"bytes_in gained since the previous tick. The first row of a flow counts what moved since tcptop began watching it: for one older than tcptop (partial), only what moved since tcptop started, so 0 if it was idle."`
	BytesOutDelta   int64 `json:"bytes_out_delta" expr:"bytes_out_delta" doc:"bytes_out gained since the previous tick, counted as bytes_in_delta."`
	PacketsInDelta  int64 `json:"packets_in_delta" expr:"packets_in_delta" doc:"packets_in gained since the previous tick, counted as bytes_in_delta."`
	PacketsOutDelta int64 `json:"packets_out_delta" expr:"packets_out_delta" doc:"packets_out gained since the previous tick, counted as bytes_in_delta."`

	RateIn  float64 `json:"rate_in" expr:"rate_in" doc:"bytes_in_delta divided by the time between this tick's and the previous tick's reads of the kernel counters (for the first tick, since tcptop started), in bytes per second; 0 for a flow that did not move."`
	RateOut float64 `json:"rate_out" expr:"rate_out" doc:"bytes_out_delta divided by the same time, in bytes per second."`

	RTTMicros int64 `json:"rtt_us" expr:"rtt_us" doc:"Smoothed round-trip time in microseconds (the kernel's srtt, as ss -ti rtt); 0 for UDP."`
	Retrans   int64 `json:"retrans" expr:"retrans" doc:"TCP segments retransmitted over the connection's life (total_retrans, carried past its 32-bit wrap); 0 for UDP."`

	Partial bool `json:"partial" expr:"partial" doc:"The connection existed before tcptop started: tcptop did not see it open. Its counters are lifetime totals all the same; its deltas and rates count only what moved since tcptop started."`
	Closed  bool `json:"closed" expr:"closed" doc:"The connection closed during this tick; this is its last record, with final counters. Every TCP connection tcptop sees close has exactly one; UDP flows do not close (an idle one expires, with a last row only if its counters moved)."`
}
