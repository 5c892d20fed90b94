package source

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/cilium/ebpf/link"
)

// iterators are the BPF iterators read each tick (bpf/iter.h). owners is
// nil where the kernel lacks bpf_sock_from_file (before 5.11).
type iterators struct {
	hot, hotGC, sweep, owners *link.Iter
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
	if s.iters.hotGC, err = link.AttachIter(link.IterOptions{Program: s.progs.Programs["tcptop_hot_gc"], Map: s.objs.Hot}); err != nil {
		return fmt.Errorf("attach hot list iterator: %w", err)
	}
	s.links = append(s.links, s.iters.hotGC)
	if s.iters.sweep, err = link.AttachIter(link.IterOptions{Program: s.progs.Programs["tcptop_sweep"]}); err != nil {
		return fmt.Errorf("attach TCP iterator: %w", err)
	}
	s.links = append(s.links, s.iters.sweep)
	s.hooks = append(s.hooks, "iter/bpf_map_elem(hot)", "iter/tcp")
	return nil
}

// runIter runs an iterator that writes nothing to its end.
func runIter(it *link.Iter, name string) error {
	rd, err := it.Open()
	if err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	defer rd.Close()
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	return nil
}

// readIter reads every record an iterator writes and adds it to this
// tick's observations.
func (s *Source) readIter(it *link.Iter, name string) error {
	if s.readFault != nil {
		return fmt.Errorf("read %s: %w", name, s.readFault)
	}
	rd, err := it.Open()
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer rd.Close()
	err = readRecords(rd, s.tcp.readBuf(), recordSize, func(p unsafe.Pointer) {
		s.addRecord((*tcptopConnRecord)(p))
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
