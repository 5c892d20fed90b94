package conn

import (
	"net/netip"
	"time"
)

// Row is one output record: one flow at one tick. It is the single
// definition of tcptop's schema. The `json` tag is the name used in NDJSON
// keys, the CSV header, text columns and docs/fields.md; the `expr` tag
// (always equal to it, enforced by a test) is the name in --where; `doc`
// is its documentation. Field order is output order. How a field reads
// for a person is declared here too (columns.go): `unit` and `none` for
// its cells, `text` and `screen` for its columns in the text format's
// default layout and on the live screen; the text format, --fields and
// the screen derive their columns from them.
type Row struct {
	Timestamp time.Time `json:"timestamp" expr:"timestamp" doc:"When the counters of this tick were read, UTC, RFC 3339 with a fixed six-digit fraction (2026-01-02T15:04:05.000000Z). In --where it is a time: compare it with date(\"...\") or now() - duration(\"1m\"); compared with a string, or with startsWith, it is this text."`
	Tick      int64     `json:"tick" expr:"tick" doc:"Tick number, starting at 1."`
	Proto     string    `json:"proto" expr:"proto" text:"PROTO,order=1,width=5" screen:"PROTO,order=10" doc:"Transport protocol: \"tcp\" or \"udp\"."`
	Family    string    `json:"family" expr:"family" doc:"Address family: \"ipv4\" or \"ipv6\". IPv4-mapped IPv6 addresses count as ipv4."`

	LocalAddr  netip.Addr `json:"local_addr" expr:"local_addr" text:"LOCAL,order=2,width=21,port=local_port" screen:"LOCAL,order=20,port=local_port" doc:"Local IP address (IPv4-mapped IPv6 shown as IPv4; 0.0.0.0 or :: for a UDP socket bound to any address)."`
	LocalPort  int        `json:"local_port" expr:"local_port" doc:"Local port."`
	RemoteAddr netip.Addr `json:"remote_addr" expr:"remote_addr" text:"REMOTE,order=3,width=21,port=remote_port" screen:"REMOTE,order=30,port=remote_port" doc:"Remote IP address. For UDP, the peer of this flow (an unconnected socket has one flow per peer)."`
	RemotePort int        `json:"remote_port" expr:"remote_port" doc:"Remote port."`

	PID   int    `json:"pid" expr:"pid" none:"0" text:"PID,order=4,width=7" screen:"PID,order=40" doc:"Process (thread group) ID that last sent or received on the socket, taken in process context; 0 if no process has touched it since tcptop started and its owner could not be found in /proc. When that process exits and leaves the socket to another (a child it forked), the process holding it then, found within two ticks."`
	Comm  string `json:"comm" expr:"comm" text:"COMM,order=5,width=15" screen:"COMM,order=50" doc:"Process name (kernel comm, at most 15 bytes) of pid: its main thread's, as ps shows it, read again at the process's first call on the socket in each tick, so a rename (prctl PR_SET_NAME) or an exec shows from then on. Any bytes the process chose, escaped as every string is (see Strings below: ESC is written \\x1b, a backslash \\x5c)."`
	State string `json:"state" expr:"state" text:"STATE,order=6,width=11" screen:"STATE,order=60" doc:"Kernel TCP state name: SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING, and CLOSE on the closed record (the kernel hands TIME_WAIT to a separate minisocket after the connection's socket closes, so a connection's last record is CLOSE); \"\" for UDP."`

	BytesIn    int64 `json:"bytes_in" expr:"bytes_in" unit:"bytes" text:"BYTES_IN,order=7,width=9" screen:"RX,order=90" doc:"Payload bytes received by the application (return values of recv calls) over the flow's life: for a TCP connection older than tcptop (partial), including what it received before tcptop started; for UDP, since tcptop started. Never goes backwards."`
	BytesOut   int64 `json:"bytes_out" expr:"bytes_out" unit:"bytes" text:"BYTES_OUT,order=8,width=9" screen:"TX,order=100" doc:"Payload bytes sent by the application (return values of send calls), counted as bytes_in."`
	PacketsIn  int64 `json:"packets_in" expr:"packets_in" text:"PKTS_IN,order=9,width=8" screen:"PKT_RX,order=120" doc:"TCP: segments received over the connection's life, the kernel's segs_in counter (as in ss -ti), carried past its 32-bit wrap. UDP: datagrams received since tcptop started. Never goes backwards."`
	PacketsOut int64 `json:"packets_out" expr:"packets_out" text:"PKTS_OUT,order=10,width=8" screen:"PKT_TX,order=130" doc:"TCP: segments sent, the kernel's segs_out counter, carried past its 32-bit wrap. UDP: datagrams sent since tcptop started."`

	BytesInDelta    int64 `json:"bytes_in_delta" expr:"bytes_in_delta" unit:"bytes" doc:"bytes_in gained since the previous tick. The first row of a flow counts what moved since tcptop began watching it: for one older than tcptop (partial), only what moved since tcptop started, so 0 if it was idle."`
	BytesOutDelta   int64 `json:"bytes_out_delta" expr:"bytes_out_delta" unit:"bytes" doc:"bytes_out gained since the previous tick, counted as bytes_in_delta."`
	PacketsInDelta  int64 `json:"packets_in_delta" expr:"packets_in_delta" doc:"packets_in gained since the previous tick, counted as bytes_in_delta."`
	PacketsOutDelta int64 `json:"packets_out_delta" expr:"packets_out_delta" doc:"packets_out gained since the previous tick, counted as bytes_in_delta."`

	RateIn  float64 `json:"rate_in" expr:"rate_in" unit:"bytes/s" text:"RATE_IN,order=12,width=10" screen:"RX/s,order=70" doc:"bytes_in_delta divided by the time between this tick's and the previous tick's reads of the kernel counters (for the first tick, since tcptop started), in bytes per second; 0 for a flow that did not move."`
	RateOut float64 `json:"rate_out" expr:"rate_out" unit:"bytes/s" text:"RATE_OUT,order=13,width=10" screen:"TX/s,order=80" doc:"bytes_out_delta divided by the same time, in bytes per second."`

	RTTMicros int64 `json:"rtt_us" expr:"rtt_us" unit:"us" none:"udp" text:"RTT,order=11,width=7" screen:"RTT,order=110" doc:"Smoothed round-trip time in microseconds (the kernel's srtt, as ss -ti rtt); 0 for UDP."`
	Retrans   int64 `json:"retrans" expr:"retrans" none:"udp" screen:"RETRANS,order=140,hidden" doc:"TCP segments retransmitted over the connection's life (total_retrans, carried past its 32-bit wrap); 0 for UDP."`

	RetransDelta int64  `json:"retrans_delta" expr:"retrans_delta" doc:"retrans gained since the previous tick (counted as bytes_in_delta)."`
	Lost         int64  `json:"lost" expr:"lost" none:"udp" screen:"LOST,order=150,hidden" doc:"TCP segments the kernel marked lost since the previous tick (its tcp_sock lost counter, counted as bytes_in_delta); 0 for UDP."`
	Cwnd         int64  `json:"cwnd" expr:"cwnd" none:"udp" screen:"CWND,order=160,hidden" doc:"Congestion window in segments (snd_cwnd, ss -ti cwnd); 0 for UDP. This and the fields below up to cc are as the kernel had them at the connection's last read: each tick it moved, at every sweep (every 10 s), and at its close."`
	Ssthresh     int64  `json:"ssthresh" expr:"ssthresh" doc:"Slow start threshold in segments (ss -ti ssthresh); 0 while slow start has not ended, and for UDP."`
	MinRTTMicros int64  `json:"min_rtt_us" expr:"min_rtt_us" unit:"us" doc:"Lowest round-trip time seen recently, in microseconds (ss -ti minrtt); 0 for UDP."`
	RTTVarMicros int64  `json:"rttvar_us" expr:"rttvar_us" unit:"us" doc:"Round-trip time variation in microseconds (ss -ti rtt's second number); 0 for UDP."`
	DeliveryRate int64  `json:"delivery_rate" expr:"delivery_rate" unit:"bytes/s" doc:"Delivery rate the kernel last measured, in bytes per second (ss -ti delivery_rate); 0 for UDP."`
	PacingRate   int64  `json:"pacing_rate" expr:"pacing_rate" unit:"bytes/s" doc:"Pacing rate in bytes per second (ss -ti pacing_rate); 0 when not paced, and for UDP."`
	NotsentBytes int64  `json:"notsent_bytes" expr:"notsent_bytes" unit:"bytes" doc:"Bytes the application wrote that TCP has not sent yet (ss -ti notsent); 0 for UDP."`
	UnackedBytes int64  `json:"unacked_bytes" expr:"unacked_bytes" unit:"bytes" doc:"Bytes sent and not yet acknowledged (snd_nxt - snd_una); 0 for UDP."`
	SndWnd       int64  `json:"snd_wnd" expr:"snd_wnd" doc:"The window the peer advertised, in bytes (ss -ti snd_wnd); 0 for UDP."`
	RcvWnd       int64  `json:"rcv_wnd" expr:"rcv_wnd" doc:"The window this end advertises, in bytes (ss -ti rcv_wnd); 0 for UDP."`
	CC           string `json:"cc" expr:"cc" screen:"CC,order=180,hidden" doc:"Congestion control algorithm (cubic, bbr, ...); \"\" for UDP."`
	Limit        string `json:"limit" expr:"limit" screen:"LIMIT,order=170,hidden" doc:"What held the sender back since the previous tick: \"cwnd\" (sending as fast as the congestion window allows: the network), \"rwnd\" (the receiver's window), \"sndbuf\" (the send buffer), \"app\" (the application had nothing to send), or \"\" when nothing was sent and nothing is queued (unacked_bytes and notsent_bytes 0), and for UDP. From the differences of the kernel's busy, rwnd-limited and sndbuf-limited times (the chrono times ss -ti prints as busy, rwnd_limited, sndbuf_limited, with the period in progress counted as ss counts it) over the interval between two reads of the connection: the interval not covered by them is the application's; the largest share names the limit. A connection's first row (and every row of a snapshot, -n 1) covers its life so far: since it opened, where tcptop saw that; for one older than tcptop, whose idle time before is unknown, only the shares of its lifetime busy and limited times, as ss -ti shows them, so a sender stalled on its receiver most of its life shows \"rwnd\" at once. Linux counts sndbuf-limited time only while the application waits in a blocking send() for room with everything queued already sent and the congestion window not full; a non-blocking sender that gets EAGAIN shows as cwnd."`
	RstIn        int64  `json:"rst_in" expr:"rst_in" doc:"TCP resets received on the connection since tcptop saw it; 0 for UDP."`
	RstOut       int64  `json:"rst_out" expr:"rst_out" doc:"TCP resets sent on the connection since tcptop saw it (before Linux 5.17 an abortive close() does not count); 0 for UDP."`
	Error        string `json:"error" expr:"error" screen:"ERROR,order=190,hidden" doc:"Why the connection failed, from the socket error the kernel set: \"refused\" (ECONNREFUSED), \"timeout\" (ETIMEDOUT), \"unreachable\" (EHOSTUNREACH, ENETUNREACH), \"reset\" (ECONNRESET, EPIPE, or a reset sent or received with no error set), another errno's name in lower case (\"ehostdown\"), or \"\" for a connection that did not fail. Set once the kernel took the connection to CLOSE, so always on its closed record. A connect that fails is a row too: state SYN_SENT, then closed with its error."`

	Partial bool `json:"partial" expr:"partial" doc:"The connection existed before tcptop started: tcptop did not see it open. Its counters are lifetime totals all the same; its deltas and rates count only what moved since tcptop started."`
	Closed  bool `json:"closed" expr:"closed" doc:"The connection closed during this tick; this is its last record, with final counters. Every TCP connection tcptop sees close has exactly one; UDP flows do not close (an idle one expires, with a last row only if its counters moved)."`

	// Identity: where the flow lives and who owns it. These come after
	// the fields above so that their columns keep their places.
	NetNS          int64     `json:"netns" expr:"netns" doc:"Network namespace of the socket: its inode number, as ls -iL /proc/PID/ns/net, lsns and ip netns identify it. Two containers' flows with the same addresses and ports differ here."`
	CgroupID       int64     `json:"cgroup_id" expr:"cgroup_id" doc:"cgroup v2 id of the owner (the cgroup pid was in when tcptop attributed the socket to it); 0 when no owner is known."`
	Cgroup         string    `json:"cgroup" expr:"cgroup" doc:"Path of cgroup_id relative to the root of the cgroup v2 hierarchy, as in /proc/PID/cgroup (\"/system.slice/nginx.service\", \"/\" for the root); \"\" when unknown: no owner, a cgroup removed before tcptop looked it up (it looks at the end of the tick that first saw it, and at the two ticks after), or one outside the hierarchy mounted where tcptop runs. Escaped as every string is (see Strings below)."`
	ContainerID    string    `json:"container_id" expr:"container_id" screen:"CONTAINER,order=220,hidden,prefix=12" doc:"Full (64 hex digits) id of the container the owner runs in, read from cgroup, only where a runtime run by root puts its containers: docker (/docker/ID, docker-ID.scope in system.slice), Kubernetes (cri-containerd-ID.scope, crio-ID.scope, or ID in a pod's cgroup under kubepods), containerd (nerdctl) and podman (libpod-ID.scope in machine.slice); for nested containers the outermost. \"\" otherwise: conmon monitors, rootless containers, and any cgroup in a subtree delegated to a user (docs/security.md)."`
	UID            int64     `json:"uid" expr:"uid" none:"-1" screen:"UID,order=210,hidden" doc:"User id of the owner, taken with pid; -1 when pid is 0 (no owner known)."`
	Direction      string    `json:"direction" expr:"direction" screen:"DIR,order=200,hidden" doc:"Who opened the connection: \"out\" (a process on this host connected), \"in\" (this host accepted it), or \"\" when tcptop cannot tell: a connection older than tcptop whose local port no listener holds. For UDP, who sent the flow's first datagram since tcptop started: \"out\" this host, \"in\" the peer."`
	Start          time.Time `json:"start" expr:"start" doc:"When the connection opened (when tcptop saw its connect or accept), or, for one older than tcptop (partial), when tcptop first saw it; for UDP, the flow's first datagram since tcptop started. Written as timestamp is (see --time-format); in --where a time, as timestamp."`
	DurationMillis int64     `json:"duration_ms" expr:"duration_ms" doc:"Milliseconds from start to timestamp: how long the flow has been open (for a partial one, watched). On a closed TCP record, its life: from start to the kernel's release of the socket. On an expired UDP record, up to the read that expired it."`
	CommunityID    string    `json:"community_id" expr:"community_id" doc:"The flow's Community ID v1 (seed 0): the hash of its addresses, ports and protocol that Zeek, Suricata and ECS (network.community_id) give the same flow, equal on both ends of a connection (\"1:LQU9qZlK+B5F3KDmev6m5PMibrg=\")."`
	IdleMillis     int64     `json:"idle_ms" expr:"idle_ms" unit:"ms" screen:"IDLE,order=230,hidden" doc:"Milliseconds from the last read of the kernel counters that saw the flow send or receive payload (bytes_in or bytes_out grew) to timestamp: 0 in a tick it moved, and since start if it has not moved since tcptop began watching it. How long it has been quiet, as ss -ti's lastsnd and lastrcv (the smaller of the two), to the precision of a tick."`
	RemoteName     string    `json:"remote_name" expr:"remote_name" doc:"The DNS name that the flow's own network namespace resolved to remote_addr: the name the application asked for (a CNAME chain is followed back to it), from the most recent answer still within its TTL when tcptop first saw the flow, kept for the flow's life. \"\" when no answer was seen: a flow older than tcptop, an address no one looked up, an answer whose TTL ran out before the connection, or one tcptop cannot see. tcptop reads the DNS answers that sockets on this host receive from port 53 (UDP, and TCP segments that hold whole messages: glibc with options use-vc is seen; an answer split over segments is not), whichever library asked: the C library's getaddrinfo, systemd-resolved's stub answering on 127.0.0.53, Go's own resolver talking to a nameserver. Invisible to it, so \"\": answers over DNS-over-TLS (port 853) or DNS-over-HTTPS (a browser's, say), names served from a cache inside a process (a JVM's, nscd's over its Unix socket) or from /etc/hosts, mDNS and LLMNR, and the answers of a message past the 2048 bytes tcptop copies. It needs Linux 6.3 or later (the kernel part uses bpf_cast_to_kern_ctx); before, remote_name is always \"\" and tcptop --check names the loss. A name of another namespace is never used, and a name is only taken from a successful answer (never from a question, or an NXDOMAIN). Escaped as every string is (see Strings below)."`
}
