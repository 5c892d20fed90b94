package run

import (
	"errors"
	"time"

	"github.com/tcptop/tcptop/internal/cgroup"
)

// cgroupNamer returns what names the aggregator's cgroup ids: paths from
// the cgroup v2 hierarchy mounted here, walked again on a miss at most
// once per half interval (so once per tick), containers from the paths.
// Without a v2 hierarchy nothing is named, and -v says so.
func cgroupNamer(interval time.Duration, log Logger, verbose bool) func(uint64) (string, string, bool) {
	root, err := cgroup.Mount()
	if err != nil {
		if verbose || !errors.Is(err, cgroup.ErrNoV2) {
			log.Printf("cgroup and container_id stay empty: %v", err)
		}
		return nil
	}
	r := cgroup.NewResolver(root, interval/2)
	return func(id uint64) (string, string, bool) {
		n, ok := r.Name(id)
		return n.Path, n.Container, ok
	}
}
