package source

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// udpSeen remembers a flow's kernel key and last activity as of the last
// snapshot, so Forget deletes it only if it stayed idle since.
type udpSeen struct {
	key    tcptopFlowTuple
	lastNs uint64
}

// udpBatch holds the reusable buffers of one tick's UDP read.
type udpBatch struct {
	keys   []tcptopFlowTuple
	values []tcptopUdpFlow
}

// readUDP reports every UDP flow in the kernel map, read in batches.
func (s *Source) readUDP() error {
	clear(s.udpSeen)
	b := &s.udp
	if b.keys == nil {
		b.keys = make([]tcptopFlowTuple, batchSize)
		b.values = make([]tcptopUdpFlow, batchSize)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := s.objs.UdpFlows.BatchLookup(&cursor, b.keys, b.values, nil)
		for i := range n {
			s.addUDP(&b.keys[i], &b.values[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read udp_flows: %w", err)
		}
	}
}

func (s *Source) addUDP(key *tcptopFlowTuple, val *tcptopUdpFlow) {
	local, remote := endpoints(key)
	id := conn.FlowID{Proto: conn.UDP, Local: local, Remote: remote}
	s.udpSeen[id] = udpSeen{key: *key, lastNs: val.LastNs}
	s.obs = append(s.obs, conn.Observation{
		ID: id, Proto: conn.UDP, Local: local, Remote: remote,
		PID: val.Pid, Comm: s.comms.name(val.Comm),
		BytesIn: val.BytesIn, BytesOut: val.BytesOut,
		PacketsIn: val.PktsIn, PacketsOut: val.PktsOut,
	})
}

// expireUDP forgets flows idle for longer than the timeout, reporting
// each one last as Expired. A datagram that arrives between the decision
// and the delete is not lost: the flow is deleted with its final counters
// read atomically, and reported with them.
func (s *Source) expireUDP() {
	if s.cfg.UDPTimeout <= 0 {
		return
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return
	}
	now := uint64(ts.Nano())
	var val tcptopUdpFlow
	for i := range s.obs {
		o := &s.obs[i]
		seen, ok := s.udpSeen[o.ID]
		if !ok || o.Proto != conn.UDP || now-seen.lastNs < uint64(s.cfg.UDPTimeout) {
			continue
		}
		if err := s.objs.UdpFlows.LookupAndDelete(&seen.key, &val); err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				// Before Linux 5.14: not atomic, a datagram in between is lost.
				if s.objs.UdpFlows.Lookup(&seen.key, &val) != nil || s.objs.UdpFlows.Delete(&seen.key) != nil {
					continue
				}
			} else {
				continue
			}
		}
		o.BytesIn, o.BytesOut, o.PacketsIn, o.PacketsOut = val.BytesIn, val.BytesOut, val.PktsIn, val.PktsOut
		o.Expired = true
	}
}
