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
	cg     uint32 // index in cgroupNames, which names cgroup
	cgroup uint64 // cgroup v2 id; 0 if unknown
}

// owners interns owners.
type owners = interned[owner]

// cgroupName is what Config.Cgroup said of a cgroup id.
type cgroupName struct {
	id              uint64
	path, container string
	attempts        uint8 // times it was asked and could not name it
}

// cgroupAttempts is how many ticks a cgroup id that could not be named is
// asked about again (a cgroup created since the last walk of the
// hierarchy is found at the next).
const cgroupAttempts = 3

// ownerOf interns the owner an observation names.
func (a *Aggregator) ownerOf(o *conn.Observation) uint32 {
	return a.owners.intern(owner{comm: a.names.intern(o.Comm), netns: o.NetNS, uid: o.UID,
		cg: a.cgroupIndex(o.CgroupID), cgroup: o.CgroupID})
}

// cgroupIndex returns the entry of a cgroup id in cgroupNames, making it
// (to be named at the end of the tick) if it is new. Entry 0 is the
// unknown cgroup, id 0 (New makes it).
func (a *Aggregator) cgroupIndex(id uint64) uint32 {
	if i, ok := a.cgroups[id]; ok {
		return i
	}
	i := a.keepCgroup(cgroupName{id: id})
	a.unnamed = append(a.unnamed, i)
	return i
}

// keepCgroup adds an entry to cgroupNames.
func (a *Aggregator) keepCgroup(n cgroupName) uint32 {
	i := uint32(len(a.cgroupNames))
	a.cgroupNames = append(a.cgroupNames, n)
	a.cgroups[n.id] = i
	return i
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
	for _, i := range a.unnamed {
		n := &a.cgroupNames[i]
		path, container, ok := a.cfg.Cgroup(n.id)
		switch {
		case ok:
			n.path, n.container = path, container
		case n.attempts+1 < cgroupAttempts:
			n.attempts++
			left = append(left, i)
		}
	}
	a.unnamed = left
}

// nameRemotes asks Config.RemoteName about the flows created this tick.
// A flow freed in the same tick (closed) is still valid here: the slab
// frees it at the next tick.
func (a *Aggregator) nameRemotes() {
	for _, idx := range a.newFlows {
		st := a.flows.at(idx)
		ip := st.remote.ip()
		if !ip.IsValid() || ip.IsUnspecified() {
			continue
		}
		if n := a.cfg.RemoteName(a.owners.get(st.owner).netns, ip, a.now); n != "" {
			st.rname = a.names.intern(n) + 1
		}
	}
	a.newFlows = a.newFlows[:0]
}

// compactNames interns again the names and owners of the flows still
// known, and forgets the cgroups none of them is in.
func (a *Aggregator) compactNames() {
	oldNames, oldOwners, oldCgroups, oldUnnamed := a.names, a.owners, a.cgroupNames, a.unnamed
	a.names, a.owners, a.cgroupNames, a.unnamed = names{}, owners{}, []cgroupName{{}}, nil
	clear(a.cgroups)
	a.cgroups[0] = 0
	again := func(i uint32) uint32 { return a.names.intern(oldNames.get(i)) }
	for _, m := range []func(func(uint32)){a.eachTCP, a.eachUDP} {
		m(func(idx uint32) {
			st := a.flows.at(idx)
			w := oldOwners.get(st.owner)
			w.comm = again(w.comm)
			if i, ok := a.cgroups[w.cgroup]; ok {
				w.cg = i
			} else {
				w.cg = a.keepCgroup(oldCgroups[w.cg]) // named as before, or not yet
			}
			st.owner = a.owners.intern(w)
			st.state = again(st.state)
			if st.rname != 0 {
				st.rname = again(st.rname-1) + 1
			}
			st.diag.cc, st.diag.err = again(st.diag.cc), again(st.diag.err)
		})
	}
	for _, i := range oldUnnamed {
		if j, ok := a.cgroups[oldCgroups[i].id]; ok {
			a.unnamed = append(a.unnamed, j)
		}
	}
}
