package source

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

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

// Forget drops UDP flows that the aggregator expired for being idle. A
// flow that saw a datagram since the last snapshot is kept: it is no
// longer idle, and deleting it would lose that datagram.
func (s *Source) Forget(ids []conn.FlowID) error {
	var errs []error
	var val tcptopUdpFlow
	for _, id := range ids {
		seen, ok := s.udpSeen[id]
		if !ok {
			continue
		}
		if err := s.objs.UdpFlows.Lookup(&seen.key, &val); err != nil {
			continue // already gone
		}
		if val.LastNs != seen.lastNs {
			continue
		}
		if err := s.objs.UdpFlows.Delete(&seen.key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, fmt.Errorf("forget udp flow: %w", err))
		}
	}
	return errors.Join(errs...)
}
