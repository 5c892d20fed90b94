package source

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// iterators are the BPF iterators read each tick (bpf/iter.h). owners is
// nil where the kernel lacks bpf_sock_from_file (before 5.11).
type iterators struct {
	hot, sweep, refresh, owners *link.Iter
	// sweeps opened in the other network namespaces at start, read by
	// the first tick.
	elsewhere []io.ReadCloser
}

// recordSize is the size of struct conn_record, which the iterators write
// back to back.
const recordSize = int(unsafe.Sizeof(tcptopConnRecord{}))

// readBufSize bounds the memory one read uses, whatever the number of
// records: a sweep of 100,000 sockets is read 64 KiB at a time.
const readBufSize = 64 << 10

// attachIterators creates the iterator links of the programs loaded.
func (s *Source) attachIterators() error {
	var err error
	if s.iters.hot, err = link.AttachIter(link.IterOptions{Program: s.progs.Programs["tcptop_hot"], Map: s.objs.Hot}); err != nil {
		return fmt.Errorf("attach hot list iterator: %w", err)
	}
	s.links = append(s.links, s.iters.hot)
	if s.iters.sweep, err = link.AttachIter(link.IterOptions{Program: s.progs.Programs["tcptop_sweep"]}); err != nil {
		return fmt.Errorf("attach TCP iterator: %w", err)
	}
	s.links = append(s.links, s.iters.sweep)
	if s.iters.refresh, err = link.AttachIter(link.IterOptions{Program: s.progs.Programs["tcptop_refresh"], Map: s.objs.TcpConns}); err != nil {
		return fmt.Errorf("attach table iterator: %w", err)
	}
	s.links = append(s.links, s.iters.refresh)
	s.hooks = append(s.hooks, "iter/bpf_map_elem(hot)", "iter/tcp", "iter/bpf_map_elem(tcp_conns)")
	return nil
}

// readHot reads the hot list, then takes off it what the read found
// idle, gone or closed. Deleting here rather than in the iterator keeps
// the iterator's reruns harmless (bpf/iter.h). A connection a call marked
// hot again between the read and the delete is put back.
func (s *Source) readHot() error {
	h := &s.tcp.hot
	h.cool, h.gone = h.cool[:0], h.gone[:0]
	err := s.readIter(s.iters.hot, "hot list", func(r *tcptopConnRecord) {
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
