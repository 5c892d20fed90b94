package source

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// iterators are the per-tick reads (bpf/iter.h). hot and refresh read a
// map each, through a map-element iterator or a walker; sweep is nil
// where the kernel refused iter/tcp, owners where it lacks
// bpf_sock_from_file (before 5.11) or refused iter/task_file.
type iterators struct {
	hot, refresh  mapRead
	sweep, owners *link.Iter
	// sweeps opened in the other network namespaces at start, read by
	// the first tick.
	elsewhere []io.ReadCloser
}

// mapRead reads one map each tick: through a map-element iterator, or,
// where the kernel refuses those, a walker program userspace runs.
type mapRead struct {
	name   string
	iter   *link.Iter
	walker *ebpf.Program
}

// recordSize is the size of struct conn_record, which the iterators write
// back to back.
const recordSize = int(unsafe.Sizeof(tcptopConnRecord{}))

// readBufSize bounds the memory one read uses, whatever the number of
// records: a sweep of 100,000 sockets is read 64 KiB at a time.
const readBufSize = 64 << 10

// attachReads sets up the per-tick reads, each on its own: the hot list
// and the table through their map-element iterators, else their walkers;
// the socket sweep through iter/tcp.
func (s *Source) attachReads(spec *ebpf.CollectionSpec) {
	s.iters.hot = s.attachMapRead(spec, "hot-list read", tcptopProgTcptopHot, tcptopProgTcptopWalkHot, s.objs.Hot)
	s.iters.refresh = s.attachMapRead(spec, "table read", tcptopProgTcptopRefresh, tcptopProgTcptopWalkTable, s.objs.TcpConns)
	s.attachSweep(spec)
}

// mapReadLoss is what tcptop loses with neither way to read a map.
const mapReadLoss = "the table is copied out whole each tick instead (bytes and closes stay exact, at a cost that grows with the table); packets, rtt, state and the diagnostics are refreshed by the socket sweep every 10 s, in tcptop's own network namespace only (limit is meanwhile the connection's over its life)"

// attachMapRead loads the iterator over m, else the walker over it.
func (s *Source) attachMapRead(spec *ebpf.CollectionSpec, name, iterProg, walkProg string, m *ebpf.Map) mapRead {
	p := Part{Name: name}
	it, err := s.loadIter(spec, iterProg, KindMapIter, m)
	if err == nil {
		s.part(Part{Name: name, Using: KindMapIter})
		s.hooks = append(s.hooks, KindMapIter+"("+m.String()+")")
		return mapRead{name: name, iter: it}
	}
	p.Refused = append(p.Refused, s.refusal(KindMapIter, iterProg, err))
	prog, err := s.loadWalker(spec, walkProg)
	if err != nil {
		p.Refused = append(p.Refused, s.refusal(KindWalker, walkProg, err))
		p.Using, p.Fallback, p.Loss = "BPF_MAP_LOOKUP_BATCH of the table, socket sweep", true, mapReadLoss
		s.part(p)
		return mapRead{name: name}
	}
	p.Using, p.Fallback, p.Same = "raw_tp walker ("+walkProg+", bpf_for_each_map_elem through BPF_PROG_TEST_RUN)", true, true
	s.part(p)
	s.hooks = append(s.hooks, "raw_tp walker("+walkProg+")")
	return mapRead{name: name, walker: prog}
}

// loadIter loads one iterator program alone and creates its link (over
// m, for a map-element iterator).
func (s *Source) loadIter(spec *ebpf.CollectionSpec, prog, kind string, m *ebpf.Map) (*link.Iter, error) {
	if err := s.forced(kind); err != nil {
		return nil, err
	}
	coll, err := s.loadSeparately(spec, prog)
	if err != nil {
		return nil, err
	}
	it, err := link.AttachIter(link.IterOptions{Program: coll.Programs[prog], Map: m})
	if err != nil {
		return nil, err
	}
	s.links = append(s.links, it)
	return it, nil
}

// loadWalker loads a walker and checks that the kernel runs it, and opens
// the ring buffer the walkers write to.
func (s *Source) loadWalker(spec *ebpf.CollectionSpec, name string) (*ebpf.Program, error) {
	if err := s.forced(KindWalker); err != nil {
		return nil, err
	}
	if s.noRingbuf {
		return nil, errNeedsRingbuf
	}
	coll, err := s.loadSeparately(spec, name)
	if err != nil {
		return nil, err
	}
	if s.walkOut == nil {
		if s.walkOut, err = ringbuf.NewReader(s.objs.WalkOut); err != nil {
			return nil, fmt.Errorf("open the walkers' ring buffer: %w", err)
		}
	}
	// A walk at load: a kernel that loads raw_tp programs but cannot run
	// them (before 5.10) says so now, not at the first tick.
	prog := coll.Programs[name]
	if err := s.walk(prog, name, func(*tcptopConnRecord) {}); err != nil {
		return nil, err
	}
	return prog, nil
}

// sweepLoss is what tcptop loses without iter/tcp.
const sweepLoss = "connections older than tcptop are listed only once they send, receive or change state; while the table is full, connections it cannot hold are not listed"

// attachSweep loads the TCP socket iterator.
func (s *Source) attachSweep(spec *ebpf.CollectionSpec) {
	it, err := s.loadIter(spec, tcptopProgTcptopSweep, KindTCPIter, nil)
	if err != nil {
		s.part(Part{Name: "socket sweep", Refused: []string{s.refusal(KindTCPIter, tcptopProgTcptopSweep, err)}, Loss: sweepLoss})
		return
	}
	s.iters.sweep = it
	s.part(Part{Name: "socket sweep", Using: KindTCPIter})
	s.hooks = append(s.hooks, KindTCPIter)
}

// none reports whether the kernel refused both ways to read the map.
func (r mapRead) none() bool { return r.iter == nil && r.walker == nil }

// readTableBatch is the per-tick read where the kernel refuses both the
// map-element iterators and the walkers: every entry of the table,
// copied out by BPF_MAP_LOOKUP_BATCH (bytes and closes exact; packets and
// rtt as the last sweep or state change left them). Closed entries are
// reported and deleted, and the hot list, which nothing else reads, is
// emptied.
func (s *Source) readTableBatch() error {
	if s.readFault != nil {
		return fmt.Errorf("read table: %w", s.readFault)
	}
	err := s.batchTable(func(r *tcptopConnRecord) bool {
		s.addRecord(r)
		return r.Conn.Flags&connClosed != 0
	})
	keys, vals := s.tcp.batch.keys, s.tcp.batch.hot
	var cursor ebpf.MapBatchCursor
	for range s.objs.Hot.MaxEntries()/uint32(len(keys)) + 1 {
		if _, err := s.objs.Hot.BatchLookupAndDelete(&cursor, keys, vals, nil); err != nil {
			break // ErrKeyNotExist: emptied
		}
	}
	return err
}

// readMap reads one map each tick, by whichever way it has; with none,
// nothing.
func (s *Source) readMap(r mapRead, fn func(*tcptopConnRecord)) error {
	switch {
	case r.iter != nil:
		return s.readIter(r.iter, r.name, fn)
	case r.walker != nil:
		return s.walk(r.walker, r.name, fn)
	}
	return nil
}

// maxWalkPasses bounds the passes of one walk. Each pass but the last
// fills the ring buffer (about 750 records), so a walk of the largest hot
// list (65,536) takes under a hundred; a socket that is marked hot again
// and again could otherwise keep a walk going.
const maxWalkPasses = 512

// walk runs a walker until it has handed over every record, draining the
// ring buffer after each pass.
func (s *Source) walk(prog *ebpf.Program, name string, fn func(*tcptopConnRecord)) error {
	if s.readFault != nil {
		return fmt.Errorf("read %s: %w", name, s.readFault)
	}
	for range maxWalkPasses {
		if _, err := prog.Run(&ebpf.RunOptions{}); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if err := drainRing(s.walkOut, &s.tcp.record, fn); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		var more uint32
		if err := s.objs.WalkMore.Get(&more); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if more == 0 {
			return nil
		}
	}
	return fmt.Errorf("read %s: still more after %d passes (the rest waits for the next tick)", name, maxWalkPasses)
}

// drainRing hands over every record waiting in a ring buffer.
func drainRing(rd *ringbuf.Reader, rec *ringbuf.Record, fn func(*tcptopConnRecord)) error {
	// A deadline already passed makes reads return once the buffer is empty.
	rd.SetDeadline(time.Now())
	for {
		err := rd.ReadInto(rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(rec.RawSample) < recordSize {
			continue
		}
		fn((*tcptopConnRecord)(unsafe.Pointer(&rec.RawSample[0])))
	}
}

// readHot reads the hot list, then takes off it what the read found
// idle, gone or closed. Deleting here rather than in the iterator keeps
// the iterator's reruns harmless (bpf/iter.h). A connection a call marked
// hot again between the read and the delete is put back.
func (s *Source) readHot() error {
	if s.iters.hot.none() {
		return s.readTableBatch()
	}
	h := &s.tcp.hot
	h.cool, h.gone = h.cool[:0], h.gone[:0]
	err := s.readMap(s.iters.hot, func(r *tcptopConnRecord) {
		switch {
		case r.Conn.Flags&connGone != 0:
			h.gone = append(h.gone, r.Cookie)
			return
		case r.Conn.Flags&connClosed != 0:
			h.gone = append(h.gone, r.Cookie)
			if s.objs.TcpConns.Delete(r.Cookie) == nil { // its record is this one
				s.tcp.deleted++
			}
		case r.Conn.Flags&connCool != 0:
			h.cool = append(h.cool, coolSock{cookie: r.Cookie, seen: r.Conn.HotTick})
		}
		s.addRecord(r)
	})
	for _, cookie := range h.gone {
		_ = s.objs.Hot.Delete(cookie)
	}
	var entry tcptopTcpConn
	for _, c := range h.cool {
		_ = s.objs.Hot.Delete(c.cookie)
		if c.seen != 0 && s.objs.TcpConns.Lookup(c.cookie, &entry) == nil && entry.HotTick != c.seen {
			_ = s.objs.Hot.Update(c.cookie, tcptopHotSock{Sk: entry.Sk}, ebpf.UpdateAny)
		}
	}
	return err
}

// coolSock is a connection the hot list read found idle.
type coolSock struct {
	cookie uint64
	seen   uint32 // its hot_tick then
}

// readIter reads every record an iterator writes and hands it to fn.
func (s *Source) readIter(it *link.Iter, name string, fn func(*tcptopConnRecord)) error {
	if s.readFault != nil {
		return fmt.Errorf("read %s: %w", name, s.readFault)
	}
	rd, err := it.Open()
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return s.readFrom(rd, name, fn)
}

// readFrom reads the records of an open iterator, and closes it.
func (s *Source) readFrom(rd io.ReadCloser, name string, fn func(*tcptopConnRecord)) error {
	defer rd.Close()
	err := readRecords(rd, s.tcp.readBuf(), recordSize, func(p unsafe.Pointer) {
		fn((*tcptopConnRecord)(p))
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// readRecords reads fixed-size records from an iterator through buf, a
// bufferful at a time, whatever their number, and hands each to fn.
func readRecords(rd io.Reader, buf []byte, size int, fn func(unsafe.Pointer)) error {
	have := 0
	for {
		n, err := rd.Read(buf[have:])
		have += n
		done := have - have%size
		for off := 0; off < done; off += size {
			fn(unsafe.Pointer(&buf[off]))
		}
		have = copy(buf, buf[done:have])
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
