package dns

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// rr is an answer record for msg: an address (A or AAAA) or, with
// target set, a CNAME.
type rr struct {
	owner, target string
	addr          string
	ttl           uint32
}

// msg builds a DNS message with dnsmessage's builder.
func msg(t testing.TB, response bool, rcode dnsmessage.RCode, question string, answers ...rr) []byte {
	t.Helper()
	return msgAsking(t, response, rcode, []string{question}, answers...)
}

// msgAsking is msg with any number of questions.
func msgAsking(t testing.TB, response bool, rcode dnsmessage.RCode, questions []string, answers ...rr) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: response, RCode: rcode})
	b.EnableCompression()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartQuestions())
	for _, q := range questions {
		must(b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(q), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	}
	must(b.StartAnswers())
	for _, a := range answers {
		h := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(a.owner), Class: dnsmessage.ClassINET, TTL: a.ttl}
		switch ip := netip.MustParseAddr(orZero(a.addr)); {
		case a.target != "":
			must(b.CNAMEResource(h, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(a.target)}))
		case ip.Is4():
			must(b.AResource(h, dnsmessage.AResource{A: ip.As4()}))
		default:
			must(b.AAAAResource(h, dnsmessage.AAAAResource{AAAA: ip.As16()}))
		}
	}
	out, err := b.Finish()
	must(err)
	return out
}

func orZero(s string) string {
	if s == "" {
		return "0.0.0.0"
	}
	return s
}

func ans(name, addr string, ttl int) Answer {
	return Answer{Name: name, Addr: netip.MustParseAddr(addr), TTL: time.Duration(ttl) * time.Second}
}

func TestParseUDP(t *testing.T) {
	ok := dnsmessage.RCodeSuccess
	cases := []struct {
		name string
		msg  []byte
		want []Answer
	}{
		{"an A record", msg(t, true, ok, "svc.test.", rr{owner: "svc.test.", addr: "192.0.2.7", ttl: 30}),
			[]Answer{ans("svc.test", "192.0.2.7", 30)}},
		{"AAAA and A", msg(t, true, ok, "svc.test.", rr{owner: "svc.test.", addr: "2001:db8::1", ttl: 5}, rr{owner: "svc.test.", addr: "192.0.2.7", ttl: 9}),
			[]Answer{ans("svc.test", "2001:db8::1", 5), ans("svc.test", "192.0.2.7", 9)}},
		{"a CNAME chain leads to the question, smallest TTL",
			msg(t, true, ok, "www.example.com.",
				rr{owner: "www.example.com.", target: "edge.cdn.test.", ttl: 300},
				rr{owner: "edge.cdn.test.", target: "node7.cdn.test.", ttl: 60},
				rr{owner: "node7.cdn.test.", addr: "198.51.100.4", ttl: 120}),
			[]Answer{ans("www.example.com", "198.51.100.4", 60)}},
		{"case does not matter in a chain", msg(t, true, ok, "WWW.Example.com.",
			rr{owner: "www.example.com.", target: "a.test.", ttl: 10}, rr{owner: "A.TEST.", addr: "192.0.2.1", ttl: 10}),
			[]Answer{ans("WWW.Example.com", "192.0.2.1", 10)}},
		{"an address not on the question's chain is left out", msg(t, true, ok, "svc.test.",
			rr{owner: "other.test.", addr: "192.0.2.9", ttl: 10}, rr{owner: "svc.test.", addr: "192.0.2.8", ttl: 10}),
			[]Answer{ans("svc.test", "192.0.2.8", 10)}},
		{"a query is no answer", msg(t, false, ok, "svc.test.", rr{owner: "svc.test.", addr: "192.0.2.7", ttl: 30}), nil},
		{"NXDOMAIN", msg(t, true, dnsmessage.RCodeNameError, "svc.test."), nil},
		{"no answers", msg(t, true, ok, "svc.test."), nil},
		{"no question: an answer to nothing asked", msgAsking(t, true, ok, nil, rr{owner: "svc.test.", addr: "192.0.2.7", ttl: 30}), nil},
		{"two questions: no resolver asks so", msgAsking(t, true, ok, []string{"svc.test.", "other.test."},
			rr{owner: "svc.test.", addr: "192.0.2.7", ttl: 30}, rr{owner: "other.test.", addr: "192.0.2.8", ttl: 30}), nil},
		{"garbage", []byte("\x00\x01garbage"), nil},
		{"empty", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ParseUDP(c.msg); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseUDPKeepsAnswersBeforeACut(t *testing.T) {
	m := msg(t, true, dnsmessage.RCodeSuccess, "svc.test.",
		rr{owner: "svc.test.", addr: "192.0.2.1", ttl: 10}, rr{owner: "svc.test.", addr: "192.0.2.2", ttl: 10})
	got := ParseUDP(m[:len(m)-2]) // the second record's address cut
	if want := []Answer{ans("svc.test", "192.0.2.1", 10)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func framed(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

func TestParseTCP(t *testing.T) {
	a := msg(t, true, dnsmessage.RCodeSuccess, "a.test.", rr{owner: "a.test.", addr: "192.0.2.1", ttl: 10})
	b := msg(t, true, dnsmessage.RCodeSuccess, "b.test.", rr{owner: "b.test.", addr: "192.0.2.2", ttl: 20})
	two := framed(a, b)
	cases := []struct {
		name    string
		payload []byte
		want    []Answer
	}{
		{"one message", framed(a), []Answer{ans("a.test", "192.0.2.1", 10)}},
		{"two messages", two, []Answer{ans("a.test", "192.0.2.1", 10), ans("b.test", "192.0.2.2", 20)}},
		{"a message cut at the segment's end", two[:len(two)-1], nil},
		{"a segment that starts inside a message", two[3:], nil},
		{"one byte", []byte{0}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ParseTCP(c.payload); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestCache(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("192.0.2.7")
	c := NewCache(10)
	c.Add(1, []Answer{ans("one.test", "192.0.2.7", 30)}, t0)
	c.Add(2, []Answer{ans("two.test", "192.0.2.7", 30)}, t0)
	checks := []struct {
		netns uint32
		addr  netip.Addr
		at    time.Duration
		want  string
	}{
		{1, ip, 0, "one.test"},
		{2, ip, 29 * time.Second, "two.test"},
		{1, netip.MustParseAddr("::ffff:192.0.2.7"), 0, "one.test"}, // a v4-mapped socket address
		{3, ip, 0, ""}, // another namespace's answer is not this one's
		{1, netip.MustParseAddr("192.0.2.8"), 0, ""},
		{1, ip, 30 * time.Second, ""}, // expired
		{1, ip, 0, ""},                // and forgotten
	}
	for i, k := range checks {
		if got := c.Name(k.netns, k.addr, t0.Add(k.at)); got != k.want {
			t.Fatalf("check %d: Name(%d, %s, +%s) = %q, want %q", i, k.netns, k.addr, k.at, got, k.want)
		}
	}
	c.Add(2, []Answer{ans("newer.test", "192.0.2.7", 5)}, t0.Add(time.Second))
	if got := c.Name(2, ip, t0.Add(2*time.Second)); got != "newer.test" {
		t.Fatalf("the most recent answer: got %q", got)
	}
}

func TestCacheStaysWithinItsBound(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	c := NewCache(1000)
	for i := range 10000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		c.Add(uint32(i%3), []Answer{{Name: fmt.Sprintf("h%d.test", i), Addr: a, TTL: time.Hour}}, t0)
		if c.Len() > 1000 {
			t.Fatalf("after %d answers the cache holds %d, over its bound of 1000", i+1, c.Len())
		}
	}
	if c.Len() != 1000 || c.Added() != 10000 {
		t.Fatalf("len %d added %d, want 1000 and 10000", c.Len(), c.Added())
	}
	last := netip.AddrFrom4([4]byte{10, 0, 39, 15}) // answer 9999: kept
	if got := c.Name(9999%3, last, t0); got != "h9999.test" {
		t.Fatalf("newest answer: got %q", got)
	}
	if got := c.Name(0, netip.AddrFrom4([4]byte{10, 0, 0, 0}), t0); got != "" {
		t.Fatalf("oldest answer should have gone, got %q", got)
	}
}
