package e2e_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/cli"
	"github.com/tcptop/tcptop/internal/source"
	"github.com/tcptop/tcptop/internal/testnet"
)

// dnsNet builds the namespaces of the remote_name tests from Go (the
// test VMs' busybox ip has no netns): namespaces bound at /run/netns,
// veth pairs over netlink, and per namespace the resolv.conf that glibc's
// getent reads there (testnet.Getent binds it, as `ip netns exec` does).
type dnsNet struct {
	t      *testing.T
	suffix string
	links  atomic.Int32
	conf   map[string]string // namespace → its resolv.conf
	named  bool              // the DNS answer hook is attached: names are expected
}

func newDNSNet(t *testing.T) *dnsNet {
	t.Helper()
	requireRoot(t)
	testnet.RequireTool(t, "getent", "hosts", "localhost")
	return &dnsNet{t: t, suffix: strconv.Itoa(int(time.Now().UnixNano() % 100000)), conf: map[string]string{}, named: dnsHookAttached(t)}
}

// want is the name a connection must have: name where the DNS answer
// hook is attached, none where the kernel refuses it.
func (n *dnsNet) want(name string) string {
	if n.named {
		return name
	}
	return ""
}

// ns makes a namespace named tt-ROLE-SUFFIX.
func (n *dnsNet) ns(role string) string {
	name := "tt-" + role + "-" + n.suffix
	testnet.AddNetns(n.t, name)
	return name
}

// link joins two namespaces with a veth pair, each end with its address
// (CIDR).
func (n *dnsNet) link(a, addrA, b, addrB string) {
	i := n.links.Add(1)
	testnet.Link(n.t, a, fmt.Sprintf("tda%s%d", n.suffix, i), addrA, b, fmt.Sprintf("tdb%s%d", n.suffix, i), addrB)
}

// resolver points ns's resolv.conf at server, with options (use-vc: over
// TCP) if any.
func (n *dnsNet) resolver(ns, server string, options ...string) {
	n.conf[ns] = "nameserver " + server + "\noptions timeout:1 attempts:3 " + strings.Join(options, " ") + "\n"
}

// resolve looks name up in ns through the C library (getent ahostsv4
// calls getaddrinfo) and returns the first address.
func (n *dnsNet) resolve(ns, name string) netip.Addr {
	n.t.Helper()
	out := testnet.Getent(n.t, ns, n.conf[ns], "ahostsv4", name)
	f := strings.Fields(out)
	if len(f) == 0 {
		n.t.Fatalf("getent ahostsv4 %s in %s: nothing", name, ns)
	}
	return netip.MustParseAddr(f[0])
}

// triangle makes the namespaces of a DNS server (10.53.0.2), a service
// (10.80.0.2) and a client linked to both, whose resolver is the server.
func (n *dnsNet) triangle(options ...string) (d, s, c string) {
	d, s, c = n.ns("dnsd"), n.ns("dnss"), n.ns("dnsc")
	n.link(c, "10.53.0.1/24", d, "10.53.0.2/24")
	n.link(c, "10.80.0.1/24", s, "10.80.0.2/24")
	n.resolver(c, "10.53.0.2", options...)
	return d, s, c
}

// dnsHook is what tcptop --check said of the DNS answer hook, asked once.
var dnsHook struct {
	once   sync.Once
	report string
}

// dnsHookAttached tells whether this kernel takes the DNS answer hook
// (cgroup_skb, 6.3+), by tcptop --check. Where it is refused, --check must
// name the loss (remote_name), and where the kernel matrix says what
// this kernel refuses (TCPTOP_EXPECT_REFUSED), the two must agree: a hook
// that broke is a failure, not an empty name taken for a refusal.
func dnsHookAttached(t *testing.T) bool {
	t.Helper()
	dnsHook.once.Do(func() {
		var out, errb bytes.Buffer
		cli.Run([]string{"--check"}, &out, &errb)
		dnsHook.report = out.String() + errb.String()
	})
	report := dnsHook.report
	i := strings.Index(report, "\nDNS answers ")
	if i < 0 {
		t.Fatalf("tcptop --check has no line for the DNS answers:\n%s", report)
	}
	line, _, _ := strings.Cut(report[i+1:], "\n")
	refused := strings.Contains(line, " refused ")
	if refused && !strings.Contains(report, "lost: remote_name") {
		t.Errorf("the DNS answer hook is refused, but tcptop --check does not name the loss:\n%s", report)
	}
	if exp, ok := os.LookupEnv("TCPTOP_EXPECT_REFUSED"); ok && slices.Contains(strings.Split(exp, ","), source.KindDNS) != refused {
		t.Fatalf("TCPTOP_EXPECT_REFUSED=%s, but tcptop --check says %q:\n%s", exp, line, report)
	}
	if refused {
		t.Logf("the DNS answer hook is refused here (%s): remote_name must be empty", strings.Join(strings.Fields(line), " "))
	}
	return !refused
}

// transfer runs a TCP client in ns that sends out bytes to addr:port and
// reads in, and waits for it to finish.
func transfer(t *testing.T, ns string, to netip.Addr, port, out, in int) {
	t.Helper()
	c := testnet.Start(t, "tt-named", ns, "tcp-client", netip.AddrPortFrom(to, uint16(port)).String(), strconv.Itoa(out), strconv.Itoa(in))
	c.Wait(t, 10*time.Second)
}

// closedClientRow waits for the closed row of the connection that sent
// out bytes to remote, and returns it.
func closedClientRow(t *testing.T, r *running, remote netip.Addr, out int) map[string]any {
	t.Helper()
	want := fmt.Sprintf(`"remote_addr":"%s"`, remote)
	r.waitLine(t, 10*time.Second, func(l string) bool {
		return strings.Contains(l, want) && strings.Contains(l, `"closed":true`) && strings.Contains(l, fmt.Sprintf(`"bytes_out":%d,`, out))
	})
	for _, rec := range r.records(t) {
		if rec["remote_addr"] == remote.String() && rec["closed"] == true && rec["bytes_out"] == float64(out) {
			return rec
		}
	}
	t.Fatal("closed row gone")
	return nil
}

// A client in one namespace resolves svc.test through the C library from
// a DNS server in a second, and connects to the address, in a third: its
// row names svc.test, with exact bytes, and --where selects it by name.
// The server's row (its peer was never looked up) has no name. Where the
// kernel refuses the DNS answer hook the row has no name, and --check
// names the loss.
func TestRemoteNameFromCLibraryResolver(t *testing.T) {
	resolveAndConnect(t)
}

// The same over TCP: `options use-vc` makes glibc ask over TCP port 53,
// and the answer, a whole length-prefixed message in one segment, names
// the connection.
func TestRemoteNameFromAnswerOverTCP(t *testing.T) {
	resolveAndConnect(t, "use-vc")
}

// resolveAndConnect is the test of TestRemoteNameFromCLibraryResolver,
// with the client's resolv.conf options.
func resolveAndConnect(t *testing.T, options ...string) {
	n := newDNSNet(t)
	d, s, c := n.triangle(options...)
	testnet.Start(t, "tt-dns", d, "dns-server", "10.53.0.2:53", "300", "svc.test=10.80.0.2")
	all := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	named := startTcptop(t, "-o", "ndjson", "-i", "250ms", "--where", `remote_name endsWith ".test"`)
	all.waitReady(t)
	named.waitReady(t)

	srv := testnet.Start(t, "tt-svc", s, "tcp-server", "10.80.0.2:0", "1234", "567")
	addr := n.resolve(c, "svc.test")
	if addr != netip.MustParseAddr("10.80.0.2") {
		t.Fatalf("svc.test resolved to %s", addr)
	}
	transfer(t, c, addr, srv.Port, 1234, 567)

	row := closedClientRow(t, all, addr, 1234)
	if row["remote_name"] != n.want("svc.test") || row["bytes_in"] != float64(567) {
		t.Errorf("client row: remote_name %q bytes_in %v, want %q and 567: %v", row["remote_name"], row["bytes_in"], n.want("svc.test"), row)
	}
	if n.named {
		closedClientRow(t, named, addr, 1234)
	}
	all.stop(t, syscall.SIGTERM)
	named.stop(t, syscall.SIGTERM)
	for _, r := range all.records(t) {
		if r["remote_addr"] == "10.80.0.1" && r["remote_name"] != "" {
			t.Errorf("the server's row names a peer no one looked up: %v", r)
		}
	}
	rows := withoutStats(named.records(t))
	for _, r := range rows {
		if name, _ := r["remote_name"].(string); !strings.HasSuffix(name, ".test") {
			t.Errorf("--where let through %v", r)
		}
	}
	if !n.named && len(rows) > 0 {
		t.Errorf("no names here, yet --where on remote_name selected %d rows", len(rows))
	}
	if slices.Contains(options, "use-vc") && !slices.ContainsFunc(all.records(t), func(r map[string]any) bool {
		return r["proto"] == "tcp" && r["remote_addr"] == "10.53.0.2" && r["remote_port"] == float64(53)
	}) {
		t.Errorf("use-vc: no TCP connection to the DNS server was seen, so the answer did not come over TCP")
	}
}

// The same address, looked up under two names in two namespaces: each
// connection has its own namespace's name. The two services are two
// namespaces with the same address, each reached from its own client.
func TestRemoteNamePerNamespace(t *testing.T) {
	n := newDNSNet(t)
	d, c1, c2, s1, s2 := n.ns("dnsd"), n.ns("dnsc1"), n.ns("dnsc2"), n.ns("dnss1"), n.ns("dnss2")
	n.link(c1, "10.53.1.1/24", d, "10.53.1.2/24")
	n.link(c2, "10.53.2.1/24", d, "10.53.2.2/24")
	n.link(c1, "10.80.0.1/24", s1, "10.80.0.2/24")
	n.link(c2, "10.80.0.1/24", s2, "10.80.0.2/24")
	n.resolver(c1, "10.53.1.2")
	n.resolver(c2, "10.53.2.2")
	testnet.Start(t, "tt-dns", d, "dns-server", "0.0.0.0:53", "300", "one.test=10.80.0.2", "two.test=10.80.0.2")
	all := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	all.waitReady(t)

	srv1 := testnet.Start(t, "tt-svc", s1, "tcp-server", "10.80.0.2:0", "1111", "11")
	srv2 := testnet.Start(t, "tt-svc", s2, "tcp-server", "10.80.0.2:0", "2222", "22")
	transfer(t, c1, n.resolve(c1, "one.test"), srv1.Port, 1111, 11)
	transfer(t, c2, n.resolve(c2, "two.test"), srv2.Port, 2222, 22)
	addr := netip.MustParseAddr("10.80.0.2")
	if got := closedClientRow(t, all, addr, 1111)["remote_name"]; got != n.want("one.test") {
		t.Errorf("first namespace's connection: remote_name %q, want %q", got, n.want("one.test"))
	}
	if got := closedClientRow(t, all, addr, 2222)["remote_name"]; got != n.want("two.test") {
		t.Errorf("second namespace's connection: remote_name %q, want %q", got, n.want("two.test"))
	}
	all.stop(t, syscall.SIGTERM)
}

// An answer whose TTL ran out names no connection made after: the one
// made at once has the name, the one made after the TTL has none.
func TestRemoteNameExpiresWithTTL(t *testing.T) {
	n := newDNSNet(t)
	d, s, c := n.triangle()
	const ttl = 2 * time.Second
	testnet.Start(t, "tt-dns", d, "dns-server", "10.53.0.2:53", strconv.Itoa(int(ttl/time.Second)), "svc.test=10.80.0.2")
	all := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	all.waitReady(t)

	srv1 := testnet.Start(t, "tt-svc", s, "tcp-server", "10.80.0.2:0", "1000", "10")
	srv2 := testnet.Start(t, "tt-svc", s, "tcp-server", "10.80.0.2:0", "2000", "20")
	addr := n.resolve(c, "svc.test")
	resolved := time.Now()
	transfer(t, c, addr, srv1.Port, 1000, 10)
	if got := closedClientRow(t, all, addr, 1000)["remote_name"]; got != n.want("svc.test") {
		t.Fatalf("connection within the TTL: remote_name %q, want %q", got, n.want("svc.test"))
	}
	time.Sleep(time.Until(resolved.Add(ttl + time.Second)))
	transfer(t, c, addr, srv2.Port, 2000, 20)
	if got := closedClientRow(t, all, addr, 2000)["remote_name"]; got != "" {
		t.Errorf("connection after the TTL: remote_name %q, want none", got)
	}
	all.stop(t, syscall.SIGTERM)
}

// The audit's forged answer (a17): a datagram from 127.0.0.1:53 to a UDP
// socket that asked nothing, naming 127.0.0.7 with a hostile name; the
// next connection to 127.0.0.7 has no name. The same answer to a socket
// connected to 127.0.0.1:53 (as glibc's resolver's is) names 127.0.0.8's
// connection: the hook is on, and refuses only what nobody asked for. An
// unconnected socket that sent its question to 127.0.0.1:53 with sendto
// (musl's resolver) gets its answer's name, with exact bytes; one that
// asked 127.0.0.2:53 and is answered from 127.0.0.1:53 gets none.
func TestRemoteNameNotFromAnAnswerNobodyAskedFor(t *testing.T) {
	n := newDNSNet(t)
	c := n.ns("plant")
	all := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	all.waitReady(t)
	for i, p := range []struct{ mode, name, addr, want string }{
		{"unasked", "=cmd|' /C calc'!A0.\x1b[2J\\\xff.test", "127.0.0.7", ""},
		{"connected", "planted.test", "127.0.0.8", n.want("planted.test")},
		{"sendto", "musl.test", "127.0.0.10", n.want("musl.test")},
		{"asked-other", "other.test", "127.0.0.9", ""},
	} {
		plant := testnet.Start(t, "tt-plant", c, "dns-plant", p.mode, p.name, p.addr)
		plant.Release()
		plant.Wait(t, 5*time.Second)
		addr := netip.MustParseAddr(p.addr)
		srv := testnet.Start(t, "tt-svc", c, "tcp-server", p.addr+":0", strconv.Itoa(123+i), "45")
		transfer(t, c, addr, srv.Port, 123+i, 45)
		row := closedClientRow(t, all, addr, 123+i)
		if row["remote_name"] != p.want || row["bytes_in"] != float64(45) {
			t.Errorf("%s answer naming %s: the connection's remote_name is %q and bytes_in %v, want %q and 45", p.mode, addr, row["remote_name"], row["bytes_in"], p.want)
		}
	}
	all.stop(t, syscall.SIGTERM)
}
