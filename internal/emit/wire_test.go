package emit

import (
	"bytes"
	stdjson "encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/goccy/go-json"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// wireType mirrors conn.Row as NDJSON carries it: the same fields, names and
// tags, with addresses and the time as strings, and strings escaped. It is built from
// conn.Fields, so it follows the schema; goccy/go-json and encoding/json
// encode it as a plain struct, which is what the NDJSON writer (which
// builds a struct of its own per record shape) is checked against.
var wireType = func() reflect.Type {
	rt := reflect.TypeFor[conn.Row]()
	fields := make([]reflect.StructField, rt.NumField())
	for i := range fields {
		sf := rt.Field(i)
		fields[i] = reflect.StructField{Name: sf.Name, Tag: sf.Tag, Type: sf.Type}
		if columns[i].kind == kAddr || columns[i].kind == kTime {
			fields[i].Type = reflect.TypeFor[string]()
		}
	}
	return reflect.StructOf(fields)
}()

// toWire converts a row to a *wireType.
func toWire(r *conn.Row) reflect.Value {
	v := reflect.New(wireType)
	rv := reflect.ValueOf(r).Elem()
	for i, c := range columns {
		switch c.kind {
		case kAddr:
			v.Elem().Field(i).SetString(string(appendAddr(nil, c.addr(unsafe.Pointer(r)))))
		case kTime:
			v.Elem().Field(i).SetString(c.time(unsafe.Pointer(r)).UTC().Format(timestampLayout))
		case kString:
			v.Elem().Field(i).SetString(escape.String(c.str(unsafe.Pointer(r))))
		default:
			v.Elem().Field(i).Set(rv.Field(i))
		}
	}
	return v
}

func wireRows(tb testing.TB, rows []conn.Row) []reflect.Value {
	tb.Helper()
	out := make([]reflect.Value, len(rows))
	for i := range rows {
		out[i] = toWire(&rows[i])
	}
	return out
}

// goccyLine is what goccy/go-json writes for r, newline included.
func goccyLine(t *testing.T, r *conn.Row) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(toWire(r).Interface()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// ndjsonLine is what the NDJSON writer writes for r.
func ndjsonLine(t *testing.T, r *conn.Row) string {
	t.Helper()
	var buf bytes.Buffer
	w := newNDJSON(&buf)
	if err := w.Row(r); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestNDJSONMatchesGoccy checks the NDJSON writer byte for byte
// against goccy/go-json on the golden rows and on random ones, with
// strings and floats chosen to hit every escape and number form.
func TestNDJSONMatchesGoccy(t *testing.T) {
	rows := tick3()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		rows = append(rows, randomRow(rng))
	}
	for i := range rows {
		if got, want := ndjsonLine(t, &rows[i]), goccyLine(t, &rows[i]); got != want {
			t.Fatalf("row %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// FuzzNDJSONString checks string escaping against goccy/go-json and that
// encoding/json reads back the text, which decodes to the string.
func FuzzNDJSONString(f *testing.F) {
	for _, s := range []string{"", "curl", "a\"b\\c", "\x00\x1f\x7f", "\b\f\n\r\t", "\u2028\u2029", "bad\xff", "<>&", "é日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := conn.Row{Comm: s, State: s}
		got, want := ndjsonLine(t, &r), goccyLine(t, &r)
		if got != want {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
		var back conn.Row
		if err := stdjson.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got, ok := escape.Decode(back.Comm); !ok || got != s {
			t.Errorf("%q reads back as %q, which decodes to %q", s, back.Comm, got)
		}
	})
}

var randomStrings = []string{"", "curl", "systemd-resolve", "a,b\"c", "tab\there", "nl\n", "\x01", "\\", "bad\xff\xfe", "\u2028", "é", "ESTABLISHED"}

var randomFloats = []float64{0, math.Copysign(0, -1), 0.25, 0.5, 1, 1234.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0 / 3}

func randomRow(rng *rand.Rand) conn.Row {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	addr := func() netip.Addr {
		if rng.IntN(2) == 0 {
			return netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), 0, 1})
		}
		var a [16]byte
		a[0], a[1], a[15] = 0x20, 0x01, byte(rng.Uint32())
		return netip.AddrFrom16(a)
	}
	num := func() int64 { return rng.Int64N(math.MaxInt64) >> rng.IntN(63) }
	flt := func() float64 {
		if rng.IntN(2) == 0 {
			return randomFloats[rng.IntN(len(randomFloats))]
		}
		return rng.Float64() * math.Pow(10, float64(rng.IntN(40)-15))
	}
	return conn.Row{
		Timestamp: time.Unix(rng.Int64N(1<<32), rng.Int64N(1e9)).In(time.FixedZone("X", 3600)),
		Tick:      num(), Proto: pick([]string{"tcp", "udp"}), Family: pick([]string{"ipv4", "ipv6"}),
		LocalAddr: addr(), LocalPort: rng.IntN(65536), RemoteAddr: addr(), RemotePort: rng.IntN(65536),
		PID: rng.IntN(1 << 22), Comm: pick(randomStrings), State: pick(randomStrings),
		BytesIn: num(), BytesOut: num(), PacketsIn: num(), PacketsOut: num(),
		BytesInDelta: num(), BytesOutDelta: num(), PacketsInDelta: num(), PacketsOutDelta: num(),
		RateIn: flt(), RateOut: flt(), RTTMicros: num(), Retrans: num(),
		Partial: rng.IntN(2) == 0, Closed: rng.IntN(2) == 0,
	}
}

func TestAppendInt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	values := []int64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 1e18 - 1, 1e18, math.MaxInt64, -1, -10, math.MinInt64}
	for range 10000 {
		values = append(values, rng.Int64()>>rng.IntN(64))
	}
	for _, v := range values {
		if got, want := string(appendInt([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendInt(%d) = %s, want %s", v, got, want)
		}
	}
}

// TestDecimalDigits checks the digit count at every power of ten, on
// either side of it, and at the ends of the range.
func TestDecimalDigits(t *testing.T) {
	check := func(u uint64) {
		if got, want := decimalDigits(u), len(strconv.FormatUint(u, 10)); got != want {
			t.Errorf("decimalDigits(%d) = %d, want %d", u, got, want)
		}
	}
	check(0)
	check(math.MaxUint64)
	for _, p := range powersOf10 {
		check(p - 1)
		check(p)
		check(p + 1)
	}
}
