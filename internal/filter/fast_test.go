package filter

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// corpus is a set of expressions over every kind of field and operator;
// fastCorpus must all be covered by the compiled closures.
var fastCorpus = []string{
	benchWhere,
	`proto == "udp" || rtt_us <= 100`,
	`!(proto == "tcp") and not closed`,
	`rate_in > 1000 && bytes_in >= 1048576`,
	`rate_in + rate_out > 1.5 * 1000 && rate_out < rate_in`,
	`bytes_in - bytes_out > 0 || -rtt_us < -5000`,
	`bytes_in / 2 > 1000 && packets_in * 3 != 9`,
	`pid in [42, 43] and proto in ["tcp", "udp"] and rtt_us in [6000, 1]`,
	`rate_in in [1234.5, 1] || local_port in [1.0, 51000]`,
	`comm matches "^cu" && comm contains "ur" && comm startsWith "c" && comm endsWith "l"`,
	`comm < "d" && state >= "E" && family != "ipv6"`,
	`partial == false && closed != true`,
	`remote_addr in cidr("10.0.0.0/8") || remote_addr not in cidr("192.168.0.0/16")`,
	`in_cidr(remote_addr, "2001:db8::/32") || in_cidr(local_addr, cidr("::ffff:192.168.0.0/112"))`,
	`in_cidr("10.1.2.3", "10.0.0.0/8") && is_private("10.1.2.3") && !is_loopback("1.1.1.1")`,
	`is_private(remote_addr) || is_loopback(local_addr)`,
	`remote_addr == "10.1.2.3" || remote_addr != "::ffff:127.0.0.1" && remote_addr == local_addr`,
	`"10.1.2.3" == remote_addr || remote_addr in ["10.1.2.3", "fd12::1", "junk"]`,
	`remote_addr not in ["127.0.0.1"] && remote_addr == comm`,
	`local_addr startsWith "192.168." && remote_addr matches "^(10|fd)" && remote_addr > "1"`,
	`timestamp > date("2026-11-26T05:00:00Z") && timestamp <= date("2027-01-01")`,
	`timestamp == "2026-11-26T05:47:55.123456Z" || timestamp startsWith "2026-11" || timestamp < "2026"`,
	`timestamp in ["2026-11-26T05:47:55.123456Z"] || timestamp != timestamp`,
	`tick > 2 && local_port < remote_port && remote_port >= 443`,
	`rtt_us in 1..10000 && pid not in -5..1000000000`,
	`comm matches repeat("c", 1) + "u" && remote_addr matches string(1) + "0"`,
}

// vmCorpus runs on expr's VM: the fast path leaves them alone.
var vmCorpus = []string{
	`bytes_in % 7 == 1`,
	`now() > timestamp`,
	`upper(comm) == "CURL"`,
	`len(remote_addr) > 3`,
	`rate_in in 1..100`,
	`comm + "/" + state == "curl/ESTABLISHED"`,
	`remote_addr + ":" + comm != ""`,
	`remote_addr in cidr(comm)`,
	`proto == "tcp" ? rtt_us > 1 : bytes_in > 1`,
	`comm matches state`,
	`rtt_us ** 2 > 1`,
}

// randomRow draws rows whose fields hit the corpus's edges.
func randomRow(rng *rand.Rand) *conn.Row {
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	addrs := []string{"10.1.2.3", "192.168.1.10", "127.0.0.1", "fd12::1", "2001:db8::7", "8.8.8.8", "::1", ""}
	addr := func() netip.Addr { a, _ := netip.ParseAddr(addrs[rng.IntN(len(addrs))]); return a }
	num := func() int64 { return []int64{0, 1, 42, 100, 5000, 6000, 1 << 20, 1 << 40}[rng.IntN(8)] }
	return &conn.Row{
		Timestamp: rowTime.Add(time.Duration(rng.IntN(5)-2) * time.Hour * 24 * 200),
		Tick:      rng.Int64N(5), Proto: pick("tcp", "udp"), Family: pick("ipv4", "ipv6"),
		LocalAddr: addr(), LocalPort: []int{443, 51000, 0}[rng.IntN(3)], RemoteAddr: addr(), RemotePort: []int{443, 53, 65535}[rng.IntN(3)],
		PID: []int{0, 42, 43}[rng.IntN(3)], Comm: pick("curl", "", "10.1.2.3", "nginx"), State: pick("ESTABLISHED", "", "CLOSE"),
		BytesIn: num(), BytesOut: num(), PacketsIn: num(), PacketsOut: num(),
		RateIn: []float64{0, 0.5, 1234.5, 1e6}[rng.IntN(4)], RateOut: []float64{0, 1, 1500}[rng.IntN(3)],
		RTTMicros: num(), Partial: rng.IntN(2) == 0, Closed: rng.IntN(2) == 0,
	}
}

// TestFastMatchesVM runs every expression of the corpus on both paths
// over random rows: the verdicts must be the same.
func TestFastMatchesVM(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rows := make([]*conn.Row, 3000)
	for i := range rows {
		rows[i] = randomRow(rng)
	}
	for _, tt := range matchTests {
		rows = append(rows, row(tt.remote))
	}
	var exprs []string
	for _, tt := range matchTests {
		exprs = append(exprs, tt.where)
	}
	exprs = append(exprs, fastCorpus...)
	for _, where := range exprs {
		f, err := Compile(where)
		if err != nil {
			t.Fatalf("Compile(%q): %v", where, err)
		}
		if f.fast != nil {
			checkPathsAgree(t, where, f, rows)
		}
	}
}

// checkPathsAgree matches each row on expr's VM and, where the compiled
// closures cover the expression, through them too: the verdicts must be
// the same, and the VM must not fail. It returns the VM's errors on an
// expression the closures do not cover, for the caller to judge.
func checkPathsAgree(t *testing.T, where string, f *Filter, rows []*conn.Row) []error {
	t.Helper()
	fast := f.fast
	f.fast = nil
	defer func() { f.fast = fast }()
	var errs []error
	for _, r := range rows {
		want, err := f.Match(r)
		switch {
		case err != nil && fast != nil:
			t.Fatalf("%q: compiled, but fails on the VM: %v", where, err)
		case err != nil:
			errs = append(errs, err)
		case fast != nil && fast(r) != want:
			t.Fatalf("%q on %+v: compiled %v, VM %v", where, r, !want, want)
		}
	}
	return errs
}

// TestFastCoverage pins which expressions the closures cover.
func TestFastCoverage(t *testing.T) {
	for _, where := range fastCorpus {
		f, err := Compile(where)
		if err != nil {
			t.Fatalf("Compile(%q): %v", where, err)
		}
		if _, err := compileFast(f.prog.Node()); err != nil {
			t.Errorf("%q runs on the VM: %v", where, err)
		}
	}
	for _, where := range vmCorpus {
		f, err := Compile(where)
		if err != nil {
			t.Fatalf("Compile(%q): %v", where, err)
		}
		if f.fast != nil {
			t.Errorf("%q was compiled; want the VM", where)
		}
	}
}
