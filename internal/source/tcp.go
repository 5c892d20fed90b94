package source

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// tcpState is what the source remembers of TCP connections between
// ticks: only those the kernel table could not hold. Everything else
// lives in the kernel.
type tcpState struct {
	index map[uint64]int // cookie → position in Source.obs, for Snapshot
	// untracked holds connections reported without a table entry:
	// whether each predates tcptop and its base are decided when it is
	// first seen, since a record built from the socket alone cannot tell.
	untracked     map[uint64]untrackedConn
	untrackedSeen uint64 // distinct connections, for Stats
	deleted       uint64 // entries userspace deleted (closes kept in the table), for Stats
	firstSweep    bool   // the sweep at start is running: what it finds predates tcptop
	buf           []byte
	record        ringbuf.Record
	batch         struct { // batchTable's buffers
		keys []uint64
		vals []tcptopTcpConn
		done []uint64
		hot  []tcptopHotSock // the hot list's values, emptied with the table's keys buffer
	}
	hot struct {
		cool []coolSock
		gone []uint64
	}
}

func (t *tcpState) init() {
	t.index = map[uint64]int{}
	t.untracked = map[uint64]untrackedConn{}
}

type untrackedConn struct {
	partial                       bool
	baseBytesIn, baseBytesOut     uint64
	basePacketsIn, basePacketsOut uint64
}

func (t *tcpState) readBuf() []byte {
	if t.buf == nil {
		t.buf = make([]byte, readBufSize)
	}
	return t.buf
}

// addRecord turns a kernel record into an observation of its connection
// and hands it on.
func (s *Source) addRecord(r *tcptopConnRecord) {
	o := &s.scratch
	*o = s.observation(r)
	s.tcpDrops(o)
	s.xlatOf(o)
	s.out(o)
	s.owner.note(o, r.Conn.Ino, r.Conn.Sk)
	if o.Closed {
		delete(s.tcp.untracked, r.Cookie)
	}
}

// observation builds an observation from a kernel record.
func (s *Source) observation(r *tcptopConnRecord) conn.Observation {
	c := &r.Conn
	local, remote := endpoints(&c.Tuple)
	o := conn.Observation{
		ID:    conn.FlowID{Proto: conn.TCP, Cookie: r.Cookie},
		Proto: conn.TCP, Local: local, Remote: remote, NetNS: c.Netns,
		PID: c.Pid, Comm: s.names.name(c.Comm), State: tcpStateName(c.State),
		BytesIn: c.BytesIn, BytesOut: c.BytesOut,
		PacketsIn: uint64(c.SegsIn), PacketsOut: uint64(c.SegsOut),
		RTTMicros: uint64(c.SrttUs), Retrans: uint64(c.TotalRetrans),
		BaseBytesIn: c.BaseIn, BaseBytesOut: c.BaseOut,
		BasePacketsIn: uint64(c.BaseSegsIn), BasePacketsOut: uint64(c.BaseSegsOut),
		CgroupID: c.CgroupId, UID: c.Uid, Direction: direction(c.Direction),
		Start: s.clock.wall(c.StartNs), Diag: s.diag(c), Error: errorName(c),
		Partial: c.Flags&connOpenSeen == 0,
		Closed:  c.Flags&connClosed != 0,
	}
	if o.Closed && c.EndNs != 0 {
		o.End = s.clock.wall(c.EndNs)
	}
	s.retransByKind(&o, c)
	if ow, ok := s.owner.found[r.Cookie]; ok && (o.PID == 0 || o.PID == ow.replaces) {
		o.PID, o.Comm, o.UID, o.CgroupID = ow.pid, ow.comm, ow.uid, ow.cgroupID
	}
	u, known := s.tcp.untracked[r.Cookie]
	if c.Flags&connUntracked == 0 {
		// A connection first reported untracked keeps the verdict it got
		// then, even once the table has room for it.
		o.Partial = o.Partial && (!known || u.partial)
		return o
	}
	o.Untracked = true
	if !known {
		// Only the first sweep finds connections older than tcptop: one
		// found later opened while the table was full.
		u = untrackedConn{partial: s.tcp.firstSweep}
		if u.partial {
			u.baseBytesIn, u.baseBytesOut = o.BytesIn, o.BytesOut
			u.basePacketsIn, u.basePacketsOut = o.PacketsIn, o.PacketsOut
		}
		s.tcp.untracked[r.Cookie] = u
		s.tcp.untrackedSeen++
	}
	o.Partial = u.partial
	o.BaseBytesIn, o.BaseBytesOut = u.baseBytesIn, u.baseBytesOut
	o.BasePacketsIn, o.BasePacketsOut = u.basePacketsIn, u.basePacketsOut
	return o
}

// drainCloses reads every close record waiting in the ring buffer.
func (s *Source) drainCloses() error {
	if s.readFault != nil {
		return fmt.Errorf("read close records: %w", s.readFault)
	}
	if s.events == nil {
		return nil // no ring buffer: closes come through the hot list
	}
	if err := drainRing(s.events, &s.tcp.record, s.addRecord); err != nil {
		return fmt.Errorf("read close records: %w", err)
	}
	return nil
}

// scanClosed looks through the whole table for connections that closed
// while both the ring buffer and the hot list were full, reports and
// deletes them. It runs only after such an overflow.
func (s *Source) scanClosed() error {
	return s.batchTable(func(r *tcptopConnRecord) bool {
		if r.Conn.Flags&connClosed == 0 {
			return false
		}
		s.addRecord(r)
		return true
	})
}

// batchTable copies the whole table out with BPF_MAP_LOOKUP_BATCH, hands
// each entry to fn, and deletes the entries fn says are done with.
func (s *Source) batchTable(fn func(*tcptopConnRecord) bool) error {
	// Where the kernel refuses both ways to read the maps this runs every
	// tick: its buffers (about 80 KB) are kept.
	b := &s.tcp.batch
	if b.keys == nil {
		b.keys, b.vals, b.hot = make([]uint64, 256), make([]tcptopTcpConn, 256), make([]tcptopHotSock, 256)
	}
	keys, vals, done := b.keys, b.vals, b.done[:0]
	defer func() { b.done = done[:0] }()
	var cursor ebpf.MapBatchCursor
	var r tcptopConnRecord
	for {
		n, err := s.objs.TcpConns.BatchLookup(&cursor, keys, vals, nil)
		for i := range n {
			r.Cookie, r.Conn = keys[i], vals[i]
			if fn(&r) {
				done = append(done, keys[i])
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("scan tcp_conns: %w", err)
		}
	}
	for _, k := range done {
		if s.objs.TcpConns.Delete(k) == nil {
			s.tcp.deleted++
		}
		_ = s.objs.Hot.Delete(k)
	}
	return nil
}

// retransByKind takes a tracked connection's retransmits from its kinds
// where the retransmit hook counts them (bpf/retrans.h): its base plus
// the kinds is total_retrans as of the last time a kind was given, so
// the kinds' deltas sum to retrans_delta exactly, while total_retrans
// read now may be a retransmit ahead of them. An untracked connection
// (no table entry) has no kinds: its retrans is total_retrans.
func (s *Source) retransByKind(o *conn.Observation, c *tcptopTcpConn) {
	if !s.retransKinds || c.Flags&connUntracked != 0 {
		return
	}
	k := c.RetransKinds
	o.Retrans = uint64(c.RetransBase + k[0] + k[1] + k[2])
	o.Diag.Kinds = true
	o.Diag.RetransRTO, o.Diag.RetransFast, o.Diag.RetransTLP = k[0], k[1], k[2]
}

// diag converts the diagnostics of a record.
func (s *Source) diag(c *tcptopTcpConn) conn.TCPDiag {
	d := conn.TCPDiag{
		Cwnd: c.Cwnd, Ssthresh: c.Ssthresh, MinRTTMicros: c.MinRttUs, RTTVarMicros: c.RttvarUs,
		DeliveryRate: c.DeliveryRate, PacingRate: c.PacingRate,
		NotsentBytes: c.NotsentBytes, UnackedBytes: c.UnackedBytes,
		SndWnd: c.SndWnd, RcvWnd: c.RcvWnd, Lost: c.Lost, RstIn: c.RstIn, RstOut: c.RstOut,
		CC: s.names.name(c.Cc), Chrono: c.Chrono, ChronoJiffies: c.ChronoJiffies, OpenJiffies: c.OpenJiffies,
		ConnectMicros: c.ConnectUs, SynRetrans: c.SynRetrans,
		ConnectKnown: c.Flags&connTimed != 0, SynsKnown: c.Flags&connSyns != 0,
	}
	if d.Ssthresh >= infiniteSsthresh {
		d.Ssthresh = 0 // not set yet (ss does not print it either)
	}
	if d.PacingRate == ^uint64(0) {
		d.PacingRate = 0
	}
	return d
}

// infiniteSsthresh is TCP_INFINITE_SSTHRESH: slow start has not ended.
const infiniteSsthresh = 0x7fffffff

func direction(d uint8) conn.Direction {
	switch d {
	case dirOut:
		return conn.DirOut
	case dirIn:
		return conn.DirIn
	}
	return conn.DirUnknown
}

// errorName says why a connection failed: from the socket error the
// kernel set (a connect refused, timed out or unreachable, a reset), or a
// reset sent or received with none set (an abortive close).
func errorName(c *tcptopTcpConn) string {
	switch e := syscall.Errno(c.Err); {
	case c.Err == 0 && (c.RstIn > 0 || c.RstOut > 0):
		return "reset"
	case c.Err == 0:
		return ""
	case e == syscall.ECONNREFUSED:
		return "refused"
	case e == syscall.ETIMEDOUT:
		return "timeout"
	case e == syscall.EHOSTUNREACH || e == syscall.ENETUNREACH:
		return "unreachable"
	case e == syscall.ECONNRESET || e == syscall.EPIPE:
		return "reset"
	default:
		return strings.ToLower(unix.ErrnoName(e))
	}
}
