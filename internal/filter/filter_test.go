package filter

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// rowTime is the timestamp of row's rows.
var rowTime = time.Date(2026, 11, 26, 5, 47, 55, 123456789, time.UTC)

// row returns a TCP row to/from remote, with the fields the tests vary. A
// remote that does not parse is left unset.
func row(remote string) *conn.Row {
	addr, _ := netip.ParseAddr(remote)
	return &conn.Row{
		Timestamp: rowTime, Tick: 3,
		Proto: "tcp", Family: "ipv4", State: "ESTABLISHED", Comm: "curl", PID: 42,
		LocalAddr: netip.MustParseAddr("192.168.1.10"), LocalPort: 51000, RemoteAddr: addr, RemotePort: 443,
		RTTMicros: 6000, BytesIn: 1 << 20, RateIn: 1234.5,
	}
}

// matchTests pairs an expression and a remote address with the expected
// verdict on row(remote).
var matchTests = []struct {
	where  string
	remote string
	want   bool
}{
	{``, "10.1.2.3", true},
	{`   `, "10.1.2.3", true},
	{`proto == "tcp" && rtt_us > 5000`, "10.1.2.3", true},
	{`proto == "udp"`, "10.1.2.3", false},
	{`rate_in > 1000 && bytes_in >= 1048576`, "10.1.2.3", true},
	{`comm matches "^cu" and pid == 42`, "10.1.2.3", true},

	// cidr with the in operator
	{`remote_addr in cidr("10.0.0.0/8")`, "10.1.2.3", true},
	{`remote_addr in cidr("10.0.0.0/8")`, "11.1.2.3", false},
	{`remote_addr in cidr("10.1.2.3")`, "10.1.2.3", true},
	{`remote_addr in cidr("10.1.2.3/8")`, "10.200.0.1", true}, // host bits ignored
	{`remote_addr not in cidr("10.0.0.0/8")`, "11.1.2.3", true},
	{`remote_addr in cidr("10.0.0.0/8")`, "::ffff:10.1.2.3", true},   // mapped address
	{`remote_addr in cidr("::ffff:10.0.0.0/104")`, "10.1.2.3", true}, // mapped prefix
	{`remote_addr in cidr("10.0.0.0/8")`, "not-an-address", false},
	{`remote_addr in cidr("10.0.0.0/8")`, "", false},
	{`remote_addr in cidr("0.0.0.0/0")`, "2001:db8::1", false}, // families never mix
	{`remote_addr in cidr("2001:db8::/32")`, "2001:db8::1", true},
	{`remote_addr in cidr("2001:db8::/32")`, "2001:db9::1", false},
	{`remote_addr in cidr("fe80::/10")`, "fe80::1%eth0", true}, // zone ignored
	{`remote_addr in cidr("::/0")`, "10.1.2.3", false},
	{`remote_addr in ["10.1.2.3", "x"]`, "10.1.2.3", true}, // plain in is intact

	// in_cidr, with a literal (parsed at compile time) and a computed prefix
	{`in_cidr(remote_addr, "10.0.0.0/8")`, "10.1.2.3", true},
	{`in_cidr(remote_addr, "10.0.0.0/8")`, "172.16.0.1", false},
	{`in_cidr(remote_addr, "2001:db8::/32")`, "2001:db8:0:1::5", true},
	{`in_cidr(remote_addr, cidr("10.0.0.0/8"))`, "10.1.2.3", true},
	{`in_cidr(remote_addr, local_addr + "/16")`, "192.168.7.7", true},
	{`in_cidr(remote_addr, local_addr + "/24")`, "192.168.7.7", false},

	// is_loopback, is_private
	{`is_loopback(remote_addr)`, "127.0.0.1", true},
	{`is_loopback(remote_addr)`, "127.5.5.5", true},
	{`is_loopback(remote_addr)`, "::1", true},
	{`is_loopback(remote_addr)`, "::ffff:127.0.0.1", true},
	{`is_loopback(remote_addr)`, "10.1.2.3", false},
	{`is_loopback(remote_addr)`, "garbage", false},
	{`is_private(remote_addr)`, "10.1.2.3", true},
	{`is_private(remote_addr)`, "172.20.0.1", true},
	{`is_private(remote_addr)`, "192.168.0.1", true},
	{`is_private(remote_addr)`, "fd12::1", true},
	{`is_private(remote_addr)`, "8.8.8.8", false},
	{`is_private(remote_addr)`, "2001:4860::8888", false},
	{`is_private(remote_addr)`, "", false},
	{`!is_private(remote_addr) && !is_loopback(remote_addr)`, "1.1.1.1", true},
	{`is_private(local_addr) && is_loopback("127.0.0.2")`, "1.1.1.1", true},

	// addresses where strings are expected
	{`remote_addr == "10.1.2.3"`, "10.1.2.3", true},
	{`remote_addr == "10.1.2.4"`, "10.1.2.3", false},
	{`"10.1.2.3" == remote_addr`, "10.1.2.3", true},
	{`remote_addr == "::ffff:10.1.2.3"`, "10.1.2.3", true}, // mapped compares as IPv4
	{`remote_addr == "2001:DB8::1"`, "2001:db8::1", true},  // as addresses, not text
	{`remote_addr == "bogus"`, "10.1.2.3", false},
	{`remote_addr == ""`, "", false},
	{`remote_addr != "10.1.2.3"`, "10.1.2.3", false},
	{`remote_addr != "10.1.2.3"`, "10.9.9.9", true},
	{`remote_addr == local_addr`, "192.168.1.10", true},
	{`remote_addr != local_addr`, "192.168.1.10", false},
	{`remote_addr in ["10.1.2.3", "x"]`, "10.1.2.3", true},
	{`remote_addr in ["10.1.2.4", "x"]`, "10.1.2.3", false},
	{`remote_addr not in ["::ffff:10.1.2.3"]`, "10.1.2.3", false},
	{`local_addr startsWith "192.168."`, "10.1.2.3", true},
	{`remote_addr startsWith "10."`, "110.1.2.3", false},
	{`remote_addr endsWith ".3"`, "10.1.2.3", true},
	{`remote_addr contains "1.2"`, "10.1.2.3", true},
	{`remote_addr matches "^fd"`, "fd12::1", true},
	{`remote_addr matches "^fd"`, "10.1.2.3", false},
	{`remote_addr > "10.1"`, "10.1.2.3", true}, // text order, as before typed rows
	{`remote_addr + ":" + string(remote_port) == "10.1.2.3:443"`, "10.1.2.3", true},
	{`upper(remote_addr) == "FD12::1"`, "fd12::1", true},
	{`len(remote_addr) == 8`, "10.1.2.3", true},
	{`remote_addr == ""`, "bogus", false},
	{`remote_addr startsWith ""`, "bogus", true}, // an unset address is ""

	// the timestamp
	{`timestamp > date("2026-11-26T05:00:00Z")`, "10.1.2.3", true},
	{`timestamp < date("2026-11-26T05:00:00Z")`, "10.1.2.3", false},
	{`timestamp == "2026-11-26T05:47:55.123456Z"`, "10.1.2.3", true},
	{`timestamp >= "2026-11-26T05:47"`, "10.1.2.3", true},
	{`timestamp < "2026-11-26T05:47"`, "10.1.2.3", false},
	{`timestamp startsWith "2026-11-26T05"`, "10.1.2.3", true},
	{`timestamp in ["2026-11-26T05:47:55.123456Z"]`, "10.1.2.3", true},
	{`timestamp.Hour() == 5 && timestamp.Year() == 2026`, "10.1.2.3", true},
	{`now() - timestamp > duration("1h")`, "10.1.2.3", true},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		f, err := Compile(tt.where)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.where, err)
		}
		got, err := f.Match(row(tt.remote))
		if err != nil {
			t.Fatalf("Match(%q, %q): %v", tt.where, tt.remote, err)
		}
		if got != tt.want {
			t.Errorf("Match(%q, remote_addr=%q) = %v, want %v", tt.where, tt.remote, got, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		where string
		want  []string // substrings of the error; a position (») unless noted
	}{
		{`proto ==`, []string{"unexpected token", "»"}},
		{`proto == "tcp" &&& 1`, []string{"»"}},
		{`rtt > 5000`, []string{"unknown name rtt", "»"}},
		{`RTTMicros > 5000`, []string{"unknown name RTTMicros", "»"}}, // Go names are not schema names
		{`Row != nil`, []string{"unknown name Row", "»"}},
		{`proto > 5`, []string{"mismatched types string and int", "»"}},
		{`rtt_us == "x"`, []string{"mismatched types int64 and string", "»"}},
		{`rtt_us in cidr("10.0.0.0/8")`, []string{"mismatched types int64 and filter.CIDR", "»"}},
		{`remote_addr > 5`, []string{"mismatched types netip.Addr and int", "»"}},
		{`timestamp == 5`, []string{"mismatched types time.Time and int", "»"}},
		{`remote_addr in cidr("10.0.0.0/33")`, []string{`cidr("10.0.0.0/33")`, "not an IP prefix", "»"}},
		{`remote_addr in cidr("bogus")`, []string{`cidr("bogus")`, "»"}},
		{`in_cidr(remote_addr, "10.0.0.0/8x")`, []string{`cidr("10.0.0.0/8x")`, "»"}},
		{`in_cidr(remote_addr)`, []string{"not enough arguments", "»"}},
		{`is_private(rtt_us)`, []string{"cannot use int64", "»"}},
		{`rtt_us`, []string{"expected bool, but got int64"}},
		{`remote_addr`, []string{"expected bool, but got netip.Addr"}},
	}
	for _, tt := range tests {
		_, err := Compile(tt.where)
		if err == nil {
			t.Errorf("Compile(%q): no error", tt.where)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "invalid --where expression: ") {
			t.Errorf("Compile(%q) = %q, want the invalid --where prefix", tt.where, msg)
		}
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("Compile(%q) = %q, want it to contain %q", tt.where, msg, w)
			}
		}
	}
}

func TestRuntimeErrors(t *testing.T) {
	for _, where := range []string{
		`bytes_in % bytes_out == 0`, // bytes_out is 0
		`remote_addr in cidr(comm)`, // comm is not a prefix
		`[1, true][0]`,              // type known only at run time
	} {
		f, err := Compile(where)
		if err != nil {
			t.Fatalf("Compile(%q): %v", where, err)
		}
		if ok, err := f.Match(row("10.1.2.3")); err == nil || ok {
			t.Errorf("Match(%q) = %v, %v; want an error", where, ok, err)
		}
	}
}

func TestNilFilterMatches(t *testing.T) {
	var f *Filter
	if ok, err := f.Match(row("10.1.2.3")); !ok || err != nil {
		t.Errorf("nil Filter: Match = %v, %v; want true, nil", ok, err)
	}
}

// TestReuse checks that the reused VM carries no state between rows.
func TestReuse(t *testing.T) {
	f, err := Compile(`remote_addr in cidr("10.0.0.0/8") && rtt_us > 5000`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		remote, want := "10.0.0.1", true
		if i%3 == 0 {
			remote, want = "11.0.0.1", false
		}
		if got, err := f.Match(row(remote)); got != want || err != nil {
			t.Fatalf("row %d: Match = %v, %v; want %v", i, got, err, want)
		}
	}
}

const benchWhere = `proto == "tcp" && rtt_us > 5000 && remote_addr in cidr("10.0.0.0/8")`

// BenchmarkMatch measures the benchmark expression on a typed row, as
// compiled closures (fast), on expr's VM (vm), and written by hand in Go
// (native), the floor the others are measured against in the same run.
func BenchmarkMatch(b *testing.B) {
	f, err := Compile(benchWhere)
	if err != nil {
		b.Fatal(err)
	}
	if f.fast == nil {
		b.Fatal("the benchmark expression is not compiled")
	}
	r := row("10.1.2.3")
	b.Run("fast", func(b *testing.B) { benchMatch(b, f.Match, r) })
	b.Run("vm", func(b *testing.B) {
		vmOnly := *f
		vmOnly.fast = nil
		benchMatch(b, vmOnly.Match, r)
	})
	p := netip.MustParsePrefix("10.0.0.0/8")
	native := func(r *conn.Row) (bool, error) {
		return r.Proto == "tcp" && r.RTTMicros > 5000 && p.Contains(r.RemoteAddr.Unmap()), nil
	}
	b.Run("native", func(b *testing.B) { benchMatch(b, native, r) })
}

func benchMatch(b *testing.B, match func(*conn.Row) (bool, error), r *conn.Row) {
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := match(r); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// TestCIDRParsedOnce checks that a constant prefix is parsed by Compile
// (expr.ConstExpr), not by every Match: cidr is made to fail after Compile.
func TestCIDRParsedOnce(t *testing.T) {
	for _, where := range []string{
		`remote_addr in cidr("10.0.0.0/8")`,
		`in_cidr(remote_addr, "10.0.0.0/8")`,
	} {
		f, err := Compile(where)
		if err != nil {
			t.Fatal(err)
		}
		f.env.CIDR = func(string) CIDR { panic("cidr called at match time") }
		if ok, err := f.Match(row("10.1.2.3")); !ok || err != nil {
			t.Errorf("Match(%q) = %v, %v; want true, nil", where, ok, err)
		}
	}
}

// TestWhereSeesStringsUnescaped: rows carry strings as the kernel had
// them; the writers escape them (internal/escape). --where compares the
// raw bytes, written in an expression as expr's string escapes
// (docs/fields.md, Strings).
func TestWhereSeesStringsUnescaped(t *testing.T) {
	r := row("10.1.2.3")
	r.Comm, r.Cgroup = "\x1b[2Ja\\b", "/tt_evil\x1b[31m"
	for where, want := range map[string]bool{
		`comm startsWith "\x1b"`:             true,
		`comm endsWith "a\\b"`:               true,
		`comm contains "\\x1b"`:              false, // the escaped text is not the value
		`cgroup == "/tt_evil\x1b[31m"`:       true,
		`cgroup contains "\\x1b"`:            false,
		`comm matches "^\\x1b\\[2J" && true`: true, // a regexp's own \x1b
	} {
		f, err := Compile(where)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if got, err := f.Match(r); err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", where, got, err, want)
		}
	}
}
