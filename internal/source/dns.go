package source

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/tcptop/tcptop/internal/dns"
)

// KindDNS is the DNS answer hook, as Config.Refuse names it.
const KindDNS = "cgroup_skb"

const (
	dnsProgram = tcptopProgTcptopDns
	dnsLoss    = "remote_name (the DNS name of the remote address) is empty"
	// dnsSyncWait bounds how long a tick waits for the reader to take
	// in the answers the kernel handed over before it (syncDNS).
	dnsSyncWait = 200 * time.Millisecond
)

// dnsState is the DNS part: the reader of the answers' ring buffer, a
// goroutine that parses them into the cache when the kernel wakes it (a
// quarter of the buffer waits: a burst of 10,000 answers a second would
// overflow a buffer read only once a tick) and at each tick (syncDNS),
// and how many it has taken in.
type dnsState struct {
	cache    *dns.Cache
	rd       *ringbuf.Reader
	taken    atomic.Uint64 // records parsed (dns_seen counts those handed over)
	attached bool
	done     chan struct{}
}

// Names is the cache of DNS answers the source fills (empty where the
// DNS part was refused): remote_name's lookup.
func (s *Source) Names() *dns.Cache { return s.dns.cache }

// RemoteName is the name netns resolved to addr, by the most recent answer
// still within its TTL at time at, or "".
func (s *Source) RemoteName(netns uint32, addr netip.Addr, at time.Time) string {
	return s.dns.cache.Name(netns, addr, at)
}

// attachDNS loads the DNS answer hook and attaches it to the root of the
// cgroup v2 hierarchy. Refused, it costs remote_name only.
func (s *Source) attachDNS(spec *ebpf.CollectionSpec) {
	p := Part{Name: "DNS answers", Loss: dnsLoss}
	path, err := s.dnsAttachPoint()
	var coll *ebpf.Collection
	if err == nil {
		coll, err = s.loadSeparately(spec, dnsProgram)
	}
	var l link.Link
	if err == nil {
		l, err = link.AttachCgroup(link.CgroupOptions{Path: path, Attach: ebpf.AttachCGroupInetIngress, Program: coll.Programs[dnsProgram]})
	}
	if err != nil {
		p.Refused = []string{s.refusal(KindDNS, dnsProgram, err)}
		s.part(p)
		return
	}
	s.links = append(s.links, l)
	s.hooks = append(s.hooks, "cgroup_skb/ingress@"+path)
	s.dns.attached = true
	p.Using = "cgroup_skb/ingress at " + path
	s.part(p)
}

// dnsAttachPoint is where the hook goes, unless it cannot be used.
func (s *Source) dnsAttachPoint() (string, error) {
	if err := s.forced(KindDNS); err != nil {
		return "", err
	}
	if s.noRingbuf {
		return "", errNeedsRingbuf
	}
	if s.cfg.CgroupPath != "" {
		return s.cfg.CgroupPath, nil
	}
	return cgroup2Mount()
}

// startDNS opens the reader of the answers and starts the goroutine that
// parses them, where the hook is attached.
func (s *Source) startDNS() error {
	if !s.dns.attached {
		return nil
	}
	rd, err := ringbuf.NewReader(s.objs.DnsEvents)
	if err != nil {
		return err
	}
	s.dns.rd, s.dns.done = rd, make(chan struct{})
	go s.readDNS(rd, s.dns.done)
	return nil
}

// readDNS parses every record until the reader is closed.
func (s *Source) readDNS(rd *ringbuf.Reader, done chan struct{}) {
	defer close(done)
	var rec ringbuf.Record
	for {
		if err := rd.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return
			}
			continue // ErrFlushed: syncDNS asked for what is there
		}
		netns, proto, payload, ok := dnsRecordOf(rec.RawSample)
		if ok {
			var answers []dns.Answer
			if proto == ipprotoTCP {
				answers = dns.ParseTCP(payload)
			} else {
				answers = dns.ParseUDP(payload)
			}
			s.dns.cache.Add(netns, answers, time.Now())
		}
		s.dns.taken.Add(1)
	}
}

const ipprotoTCP = 6

// Offsets of struct dns_record's fields, from bpf2go's type: the record
// is read in place, without copying its 2 KiB array.
var (
	dnsOffNetns = unsafe.Offsetof(tcptopDnsRecord{}.Netns)
	dnsOffLen   = unsafe.Offsetof(tcptopDnsRecord{}.Len)
	dnsOffProto = unsafe.Offsetof(tcptopDnsRecord{}.Proto)
	dnsOffData  = unsafe.Offsetof(tcptopDnsRecord{}.Data)
)

// dnsRecordOf splits a record into the receiving namespace, the protocol
// and the payload.
func dnsRecordOf(b []byte) (netns uint32, proto uint8, payload []byte, ok bool) {
	if len(b) < int(dnsOffData) {
		return 0, 0, nil, false
	}
	n := int(binary.NativeEndian.Uint16(b[dnsOffLen:]))
	if len(b) < int(dnsOffData)+n {
		return 0, 0, nil, false
	}
	return binary.NativeEndian.Uint32(b[dnsOffNetns:]), b[dnsOffProto], b[dnsOffData : int(dnsOffData)+n], true
}

// syncDNS waits until the reader has taken in every answer the kernel
// handed over before now, so that a connection read this tick finds the
// answer its process received before making it.
func (s *Source) syncDNS() error {
	if s.dns.rd == nil {
		return nil
	}
	var seen uint64
	if err := s.objs.DnsSeen.Get(&seen); err != nil {
		return err
	}
	if s.dns.taken.Load() >= seen {
		return nil
	}
	// The kernel wakes the reader only for a full quarter of the buffer
	// (bpf/dns.h): the rest waits for this.
	if err := s.dns.rd.Flush(); err != nil {
		return err
	}
	for deadline := time.Now().Add(dnsSyncWait); s.dns.taken.Load() < seen && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

// stopDNS closes the reader and waits for its goroutine.
func (s *Source) stopDNS() error {
	if s.dns.rd == nil {
		return nil
	}
	err := s.dns.rd.Close()
	<-s.dns.done
	s.dns.rd = nil
	return err
}

// DNSStats counts the answers: handed over by the kernel, lost because
// its buffer was full, refused because they came to a socket that did
// not ask (not connected to the answer's source at port 53: bpf/dns.h),
// and addresses in the cache.
type DNSStats struct {
	Seen, Lost, Refused uint64
	Cached              int
}

// DNSStats reads the DNS part's counters.
func (s *Source) DNSStats() (DNSStats, error) {
	st := DNSStats{Cached: s.dns.cache.Len()}
	err := errors.Join(s.objs.DnsSeen.Get(&st.Seen), s.objs.DnsLost.Get(&st.Lost), s.objs.DnsRefused.Get(&st.Refused))
	return st, err
}
