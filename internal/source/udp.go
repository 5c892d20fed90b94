package source

import (
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// udpState holds the reusable buffers of the UDP read. UDP flows have no
// socket of their own to re-read: the table holds only flows active within
// the idle timeout, and it is read whole each tick.
type udpState struct {
	keys    []tcptopUdpKey
	values  []tcptopUdpFlow
	idle    []tcptopUdpKey // flows past the idle timeout, to forget
	deleted uint64         // flows forgotten, for Stats
	// beforeForget, when set by a test, runs between the decision to
	// forget the idle flows and their deletion.
	beforeForget func()
}

func (u *udpState) init() {
	u.keys = make([]tcptopUdpKey, batchSize)
	u.values = make([]tcptopUdpFlow, batchSize)
}

const batchSize = 256

// readUDP reports every UDP flow in the kernel table, then forgets those
// idle past the timeout.
func (s *Source) readUDP() error {
	if s.readFault != nil {
		return fmt.Errorf("read udp_flows: %w", s.readFault)
	}
	u := &s.udp
	u.idle = u.idle[:0]
	now := monotonicNow()
	var cursor ebpf.MapBatchCursor
	for {
		n, err := s.objs.UdpFlows.BatchLookup(&cursor, u.keys, u.values, nil)
		for i := range n {
			if idlePast(now, u.values[i].LastNs, s.cfg.UDPTimeout) {
				u.idle = append(u.idle, u.keys[i])
				continue
			}
			s.addUDP(&u.keys[i], &u.values[i], false)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("read udp_flows: %w", err)
		}
	}
	return s.expireUDP()
}

// idlePast tells whether a flow whose last datagram was at last (kernel
// monotonic ns) has been idle for timeout at now (0: never expire). A
// datagram that came after now was taken, during the table's read, is
// not idle: without the check the unsigned difference wrapped, and such
// a flow was forgotten at once and its next datagram started a new one
// (seen under emulation, where a read takes long: a flow split with 5 of
// its 6 replies in the first).
func idlePast(now, last uint64, timeout time.Duration) bool {
	return timeout > 0 && last <= now && now-last >= uint64(timeout)
}

// expireUDP forgets idle flows: the source is the only owner of UDP
// expiry, and it reports each flow forgotten as Expired with the counters
// it had when deleted. The delete reads them atomically (5.14+), so a
// datagram that arrived after the idle check is counted, not lost; one
// that arrives after the delete starts a new flow from zero.
func (s *Source) expireUDP() error {
	if len(s.udp.idle) > 0 && s.udp.beforeForget != nil {
		s.udp.beforeForget()
	}
	var val tcptopUdpFlow
	for i := range s.udp.idle {
		key := &s.udp.idle[i]
		err := s.objs.UdpFlows.LookupAndDelete(key, &val)
		if errors.Is(err, ebpf.ErrNotSupported) {
			// Before 5.14 the read and the delete are two steps; a datagram
			// between them (microseconds) is lost.
			if err = s.objs.UdpFlows.Lookup(key, &val); err == nil {
				err = s.objs.UdpFlows.Delete(key)
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("forget udp flow: %w", err)
		}
		s.udp.deleted++
		s.addUDP(key, &val, true)
	}
	return nil
}

func (s *Source) addUDP(key *tcptopUdpKey, val *tcptopUdpFlow, expired bool) {
	local, remote := endpoints(&key.Tuple)
	s.scratch = conn.Observation{
		ID:    conn.FlowID{Proto: conn.UDP, NetNS: key.Netns, Local: local, Remote: remote},
		Proto: conn.UDP, Local: local, Remote: remote, NetNS: key.Netns,
		PID: val.Pid, Comm: s.names.name(val.Comm),
		BytesIn: val.BytesIn, BytesOut: val.BytesOut,
		PacketsIn: val.PktsIn, PacketsOut: val.PktsOut,
		CgroupID: val.CgroupId, UID: val.Uid, Start: s.clock.wall(val.StartNs),
		Direction: direction(val.Direction),
		Expired:   expired,
	}
	s.udpDrops(&s.scratch)
	s.xlatOf(&s.scratch)
	s.out(&s.scratch)
}

// monotonicNow is CLOCK_MONOTONIC in nanoseconds, the clock of the
// kernel's bpf_ktime_get_ns.
func monotonicNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
