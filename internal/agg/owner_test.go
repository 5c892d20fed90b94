package agg

import (
	"fmt"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

func (o ob) owner(netns, uid uint32, cgroup uint64) ob {
	o.NetNS, o.UID, o.CgroupID = netns, uid, cgroup
	if o.Proto == conn.UDP {
		o.ID.NetNS = netns
	}
	return o
}
func (o ob) dir(d conn.Direction) ob { o.Direction = d; return o }
func (o ob) start(t time.Time) ob    { o.Start = t; return o }
func (o ob) cc(cc, err string) ob    { o.Diag.CC, o.Error = cc, err; return o }

// fakeCgroups names cgroup ids from a table, counting the questions; an
// id missing from the table cannot be named (yet).
type fakeCgroups struct {
	paths map[uint64]string
	asked map[uint64]int
}

func (f *fakeCgroups) name(id uint64) (string, string, bool) {
	if f.asked == nil {
		f.asked = map[uint64]int{}
	}
	f.asked[id]++
	p, ok := f.paths[id]
	return p, "c-" + p, ok
}

// iv is the identity view of a row.
type iv struct {
	Port            int
	NetNS, CgroupID int64
	Cgroup, Ctr     string
	UID             int64
	Dir             string
	Start           string
	Dur             int64
}

func identity(r conn.Row) iv {
	return iv{r.RemotePort, r.NetNS, r.CgroupID, r.Cgroup, r.ContainerID, r.UID, r.Direction,
		r.Start.Format("15:04:05.000"), r.DurationMillis}
}

// TestOwnerFields follows two flows: the owner's identity is taken with
// its pid and kept through observations without one; direction and start
// come from the source, or start is when the flow was first seen; the
// duration runs to each row's timestamp, the closed one's included.
func TestOwnerFields(t *testing.T) {
	f := &fakeCgroups{paths: map[uint64]string{7: "/system.slice/nginx.service"}}
	a := New(Config{Start: t0, Cgroup: f.name})
	var got [][]iv
	tick := func(now float64, o ...ob) {
		a.Tick(conn.Snapshot{Time: at(now), Obs: obs(o...)})
		got = append(got, project(rowsOf(t, a, false), identity))
	}
	opened := at(0.5)
	tick(1,
		tcp(1).pid(10, "nginx").owner(4026531840, 33, 7).dir(conn.DirIn).start(opened).bytes(1, 0),
		tcp(2).owner(4026531840, 0, 0).partial()) // no owner yet
	tick(2,
		tcp(1).owner(4026531840, 0, 0).bytes(2, 0), // softirq: no pid, no owner
		tcp(2).pid(11, "curl").owner(4026531840, 1000, 8).dir(conn.DirOut))
	tick(3.25, tcp(1).pid(10, "nginx").owner(4026531840, 33, 7).bytes(3, 0).closed())
	want := [][]iv{
		{
			{1, 4026531840, 7, "/system.slice/nginx.service", "c-/system.slice/nginx.service", 33, "in", "15:04:05.500", 500},
			{2, 4026531840, 0, "", "", -1, "", "15:04:06.000", 0},
		},
		{
			{1, 4026531840, 7, "/system.slice/nginx.service", "c-/system.slice/nginx.service", 33, "in", "15:04:05.500", 1500},
			{2, 4026531840, 8, "", "", 1000, "out", "15:04:06.000", 1000}, // cgroup 8 cannot be named yet
		},
		{
			{1, 4026531840, 7, "/system.slice/nginx.service", "c-/system.slice/nginx.service", 33, "in", "15:04:05.500", 2750},
			{2, 4026531840, 8, "", "", 1000, "out", "15:04:06.000", 2250},
		},
	}
	for i := range want {
		check(t, fmt.Sprintf("tick %d", i+1), got[i], want[i])
	}
	if f.asked[7] != 1 {
		t.Errorf("cgroup 7 asked %d times, want once", f.asked[7])
	}
	// 8 is asked at ticks 2 and 3, then once more, and then given up.
	for range 3 {
		tick(5)
	}
	if f.asked[8] != cgroupAttempts {
		t.Errorf("cgroup 8 asked %d times, want %d", f.asked[8], cgroupAttempts)
	}
}

// TestOwnerNamedLater names a cgroup that could not be named at first.
func TestOwnerNamedLater(t *testing.T) {
	f := &fakeCgroups{paths: map[uint64]string{}}
	a := New(Config{Start: t0, Cgroup: f.name})
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(tcp(1).pid(10, "app").owner(1, 0, 9))})
	f.paths[9] = "/new.scope"
	a.Tick(conn.Snapshot{Time: at(2)})
	if rows := rowsOf(t, a, false); len(rows) != 1 || rows[0].Cgroup != "/new.scope" {
		t.Errorf("rows %+v", rows)
	}
}

// TestSameTupleTwoNamespaces: two UDP flows with the same 4-tuple in two
// network namespaces are two rows, each with its namespace and owner.
func TestSameTupleTwoNamespaces(t *testing.T) {
	a := New(Config{Start: t0, Cgroup: (&fakeCgroups{paths: map[uint64]string{1: "/a", 2: "/b"}}).name})
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(
		udp(53).pid(100, "dig").owner(111, 0, 1).bytes(10, 20),
		udp(53).pid(200, "dig").owner(222, 0, 2).bytes(30, 40))})
	rows := rowsOf(t, a, false)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	seen := map[int64]string{}
	for _, r := range rows {
		seen[r.NetNS] = fmt.Sprintf("%s %d %d", r.Cgroup, r.BytesIn, r.BytesOut)
	}
	if seen[111] != "/a 10 20" || seen[222] != "/b 30 40" {
		t.Errorf("rows by namespace: %v", seen)
	}
}

// TestCompactionKeepsEverything churns through more process names than
// the interned tables hold: the flows still known keep their names,
// owners, cgroups, congestion control and error.
func TestCompactionKeepsEverything(t *testing.T) {
	a := New(Config{Start: t0, Cgroup: (&fakeCgroups{paths: map[uint64]string{5: "/keep"}}).name})
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(tcp(1).pid(1, "keep").owner(3, 1000, 5).cc("bbr", "reset"))})
	for i := range maxNames + 10 {
		a.Tick(conn.Snapshot{Time: at(float64(i + 2)), Obs: obs(tcp(2).pid(uint32(i+2), fmt.Sprint("name", i)).owner(3, uint32(i), uint64(i+100)).cc("cubic", ""))})
	}
	a.Tick(conn.Snapshot{Time: at(maxNames + 20)})
	if len(a.names.list) > 100 || len(a.owners.list) > 100 || len(a.cgroups) > 100 {
		t.Errorf("%d names, %d owners, %d cgroups kept", len(a.names.list), len(a.owners.list), len(a.cgroups))
	}
	rows := rowsOf(t, a, false)
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	if r.Comm != "keep" || r.UID != 1000 || r.NetNS != 3 || r.CgroupID != 5 || r.Cgroup != "/keep" || r.CC != "bbr" || r.Error != "reset" {
		t.Errorf("the flow that stayed: %+v", r)
	}
	if r := rows[1]; r.Comm != fmt.Sprint("name", maxNames+9) || r.CC != "cubic" || r.Error != "" {
		t.Errorf("the churned flow: %+v", r)
	}
}

// TestServicePortByDirection: service_port is the remote port of a
// connection this host opened, the local port of one it accepted, and 0
// where the direction is unknown; and, for UDP, by its direction alike.
func TestServicePortByDirection(t *testing.T) {
	a := New(Config{Start: t0})
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(
		tcp(443).dir(conn.DirOut), tcp(51234).dir(conn.DirIn), tcp(22).partial(),
		udp(53).dir(conn.DirOut).bytes(0, 40), udp(5353).dir(conn.DirIn).bytes(40, 0))})
	got := map[string]int{}
	for _, r := range rowsOf(t, a, false) {
		got[fmt.Sprintf("%s %d %s", r.Proto, r.RemotePort, r.Direction)] = r.ServicePort
	}
	want := map[string]int{"tcp 443 out": 443, "tcp 51234 in": 40000, "tcp 22 ": 0, "udp 53 out": 53, "udp 5353 in": 40000}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("service_port by flow: %v, want %v", got, want)
	}
}
