package agg

import (
	"github.com/tcptop/tcptop/internal/conn"
)

// owner is who a flow belongs to and where: its process name, network
// namespace, user and cgroup. Most flows of a host share a few owners, so
// owners are interned and a flow keeps one index (flowState.owner).
type owner struct {
	comm   uint32 // index in names
	netns  uint32
	uid    uint32
	cgroup uint64 // cgroup v2 id; 0 if unknown
}

// owners interns owners, as names interns strings.
type owners struct {
	list  []owner
	index map[owner]uint32
}

func (o *owners) intern(w owner) uint32 {
	if i, ok := o.index[w]; ok {
		return i
	}
	if o.index == nil {
		o.index = make(map[owner]uint32)
	}
	i := uint32(len(o.list))
	o.list = append(o.list, w)
	o.index[w] = i
	return i
}

func (o *owners) get(i uint32) *owner { return &o.list[i] }

// cgroupName is what Config.Cgroup said of a cgroup id.
type cgroupName struct {
	path, container string
	attempts        uint8 // times it was asked and could not name it
	named           bool
}

// cgroupAttempts is how many ticks a cgroup id that could not be named is
// asked about again (a cgroup created since the last walk of the
// hierarchy is found at the next).
const cgroupAttempts = 3

// ownerOf interns the owner an observation names.
func (a *Aggregator) ownerOf(o *conn.Observation) uint32 {
	w := owner{comm: a.names.intern(o.Comm), netns: o.NetNS, uid: o.UID, cgroup: o.CgroupID}
	if w.cgroup != 0 {
		if _, known := a.cgroups[w.cgroup]; !known {
			a.cgroups[w.cgroup] = cgroupName{}
			a.unnamed = append(a.unnamed, w.cgroup)
		}
	}
	return a.owners.intern(w)
}

// sameOwner reports whether an observation names the flow's owner, without
// interning anything.
func (a *Aggregator) sameOwner(st *flowState, o *conn.Observation) bool {
	w := a.owners.get(st.owner)
	return o.NetNS == w.netns && o.UID == w.uid && o.CgroupID == w.cgroup && o.Comm == a.names.get(w.comm)
}

// nameCgroups asks Config.Cgroup about the cgroup ids seen this tick, and
// again about those it could not name yet, once per tick.
func (a *Aggregator) nameCgroups() {
	if a.cfg.Cgroup == nil || len(a.unnamed) == 0 {
		a.unnamed = a.unnamed[:0]
		return
	}
	left := a.unnamed[:0]
	for _, id := range a.unnamed {
		n := a.cgroups[id]
		path, container, ok := a.cfg.Cgroup(id)
		switch {
		case ok:
			n = cgroupName{path: path, container: container, named: true}
		case n.attempts+1 < cgroupAttempts:
			n.attempts++
			left = append(left, id)
		default:
			n.named = true // given up: ""
		}
		a.cgroups[id] = n
	}
	a.unnamed = left
}

// cgroupOf returns the path and container of a cgroup id, "" while unknown.
func (a *Aggregator) cgroupOf(id uint64) (path, container string) {
	n := a.cgroups[id]
	return n.path, n.container
}

// compactNames interns again the names and owners of the flows still
// known, and forgets the cgroups none of them is in.
func (a *Aggregator) compactNames() {
	oldNames, oldOwners, oldCgroups := a.names, a.owners, a.cgroups
	a.names, a.owners, a.cgroups = names{}, owners{}, make(map[uint64]cgroupName)
	again := func(i uint32) uint32 { return a.names.intern(oldNames.get(i)) }
	for _, m := range []func(func(uint32)){a.eachTCP, a.eachUDP} {
		m(func(idx uint32) {
			st := a.flows.at(idx)
			w := *oldOwners.get(st.owner)
			w.comm = again(w.comm)
			st.owner = a.owners.intern(w)
			if w.cgroup != 0 {
				a.cgroups[w.cgroup] = oldCgroups[w.cgroup]
			}
			st.state = again(st.state)
			st.diag.cc, st.diag.err = again(st.diag.cc), again(st.diag.err)
		})
	}
	left := a.unnamed[:0]
	for _, id := range a.unnamed {
		if _, live := a.cgroups[id]; live {
			left = append(left, id)
		}
	}
	a.unnamed = left
}
