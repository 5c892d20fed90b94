package cli

import (
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/cgroup"
	"github.com/tcptop/tcptop/internal/conn"
)

// cgroupNamer returns what names the aggregator's cgroup ids: paths from
// the cgroup v2 hierarchy mounted here, walked again on a miss at most
// once per half interval (so once per tick), containers from the paths.
// Without a v2 hierarchy nothing is named, and -v says so.
func cgroupNamer(interval time.Duration, log logger, verbose bool) func(uint64) (string, string, bool) {
	root, err := cgroup.Mount()
	if err != nil {
		if verbose || !errors.Is(err, cgroup.ErrNoV2) {
			log.printf("cgroup and container_id stay empty: %v", err)
		}
		return nil
	}
	r := cgroup.NewResolver(root, interval/2)
	return func(id uint64) (string, string, bool) {
		p, ok := r.Path(id)
		if !ok {
			return "", "", false
		}
		return p, cgroup.ContainerID(p), true
	}
}

// communityIDs computes the community_id of rows. A row's ID is written
// in a buffer of its own, which the next row's reuses: the string is
// valid until then, which is as long as a row handed out by the
// aggregator is (its consumers copy what they keep). This keeps the
// default output, which has the field, free of an allocation per row.
type communityIDs struct {
	buf [conn.CommunityIDLen]byte
}

var protoOfName = map[string]conn.Proto{"tcp": conn.TCP, "udp": conn.UDP}

func (c *communityIDs) fill(r *conn.Row) {
	b := conn.AppendCommunityID(c.buf[:0], 0, protoOfName[r.Proto],
		netip.AddrPortFrom(r.LocalAddr, uint16(r.LocalPort)), netip.AddrPortFrom(r.RemoteAddr, uint16(r.RemotePort)))
	r.CommunityID = unsafe.String(unsafe.SliceData(b), len(b))
}
