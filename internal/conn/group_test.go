package conn

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestGroupRowLayout checks what GroupFields relies on: Row first, so the
// key and summed fields have Row's offsets in a GroupRow.
func TestGroupRowLayout(t *testing.T) {
	if off := unsafe.Offsetof(GroupRow{}.Row); off != 0 {
		t.Fatalf("GroupRow.Row at offset %d, want 0", off)
	}
	g := GroupRow{Row: Row{Comm: "nginx", BytesIn: 7}, Connections: 3, RTTMeanMicros: 9}
	byName := map[string]Field{}
	for _, f := range GroupFields([]string{"comm"}) {
		byName[f.Name] = f
	}
	r := (*Row)(unsafe.Pointer(&g))
	if Getter[string](byName["comm"])(r) != "nginx" || Getter[int64](byName["bytes_in"])(r) != 7 ||
		Getter[int64](byName["connections"])(r) != 3 || Getter[int64](byName["rtt_mean_us"])(r) != 9 {
		t.Error("GroupFields offsets do not read a GroupRow")
	}
}

func TestGroupFieldNames(t *testing.T) {
	got := GroupFieldNames([]string{"remote_addr", "remote_port"})
	want := []string{"timestamp", "tick", "remote_addr", "remote_port", "connections",
		"bytes_in", "bytes_out", "packets_in", "packets_out",
		"bytes_in_delta", "bytes_out_delta", "packets_in_delta", "packets_out_delta",
		"rate_in", "rate_out", "rtt_max_us", "rtt_mean_us"}
	if !slices.Equal(got, want) {
		t.Errorf("GroupFieldNames = %v\nwant %v", got, want)
	}
}

func TestCheckGroupKeys(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string // "" for no error, else a part of the message
	}{
		{[]string{"comm"}, ""},
		{[]string{"remote_addr", "remote_port"}, ""},
		{[]string{"container_id", "closed"}, ""},
		{nil, "no fields"},
		{[]string{"bogus"}, `unknown field "bogus" (valid: proto, family,`},
		{[]string{"tick"}, "cannot group by tick"},
		{[]string{"bytes_in"}, "sum it"},
		{[]string{"comm", "comm"}, "named twice"},
	} {
		err := CheckGroupKeys(tc.keys)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckGroupKeys(%v) = %v, want %q", tc.keys, err, tc.want)
		}
	}
}

// TestStatsFields checks the stats record's schema: tags on every field,
// snake_case, type first.
func TestStatsFields(t *testing.T) {
	rt := reflect.TypeFor[Stats]()
	if len(StatsFields) != rt.NumField() || StatsFields[0].Name != "type" {
		t.Fatalf("StatsFields %v", StatsFields)
	}
	for _, f := range StatsFields {
		if !snakeCase.MatchString(f.Name) {
			t.Errorf("%s is not snake_case", f.Name)
		}
	}
}

// TestServicePort: the service end's port is the remote one of a flow
// this host opened, the local one of a flow the peer opened, and 0 where
// tcptop cannot tell (never a guess that could be an ephemeral port).
func TestServicePort(t *testing.T) {
	for _, tt := range []struct {
		d    Direction
		want int
	}{{DirOut, 443}, {DirIn, 51234}, {DirUnknown, 0}} {
		if got := tt.d.ServicePort(51234, 443); got != tt.want {
			t.Errorf("%q.ServicePort(51234, 443) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
