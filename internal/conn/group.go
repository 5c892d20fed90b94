package conn

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// GroupRow is one record of --group-by: the flows of one key in one tick,
// summed. Row holds the key fields (as the group's first flow had them),
// the tick's timestamp and number, and in the fields named by GroupSums
// the sums over the group's flows; its other fields mean nothing. Row
// comes first, so a GroupRow's fields have offsets in one frame with
// Row's (GroupFields relies on it, and a test checks it).
type GroupRow struct {
	Row Row `json:"-"`

	Connections   int64 `json:"connections" doc:"Flows in the group this tick: the TCP connections and UDP flows whose rows passed --where and have the group's key (a closed connection counts in the tick of its closed record)."`
	RTTMaxMicros  int64 `json:"rtt_max_us" unit:"us" doc:"Largest rtt_us among the group's flows; 0 if none has one (UDP)."`
	RTTMeanMicros int64 `json:"rtt_mean_us" unit:"us" doc:"Mean rtt_us of the group's flows that have one (rtt_us > 0), rounded to the nearest microsecond; 0 if none has."`
}

// GroupSums are the fields of a flow row that a grouped row sums.
var GroupSums = []string{
	"bytes_in", "bytes_out", "packets_in", "packets_out",
	"bytes_in_delta", "bytes_out_delta", "packets_in_delta", "packets_out_delta",
	"rate_in", "rate_out",
}

// groupHead are the fields every grouped row starts with.
var groupHead = []string{"timestamp", "tick"}

// groupOwn are GroupRow's own fields.
var groupOwn = taggedFields(reflect.TypeFor[GroupRow](), 0)

// FieldByName returns the schema field called name.
func FieldByName(name string) (Field, bool) {
	i := slices.IndexFunc(Fields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return Field{}, false
	}
	return Fields[i], true
}

// CheckGroupKeys checks the fields of --group-by: names of the schema,
// each once, neither timestamp nor tick (every row of a tick shares them)
// nor a field that grouped rows sum.
func CheckGroupKeys(keys []string) error {
	if len(keys) == 0 {
		return fmt.Errorf("no fields to group by")
	}
	for i, k := range keys {
		switch {
		case slices.Contains(groupHead, k):
			return fmt.Errorf("cannot group by %s: every row of a tick has the same", k)
		case slices.Contains(GroupSums, k):
			return fmt.Errorf("cannot group by %s: grouped rows sum it", k)
		case slices.Contains(keys[:i], k):
			return fmt.Errorf("%s is named twice", k)
		}
		if _, ok := FieldByName(k); !ok {
			return fmt.Errorf("unknown field %q (valid: %s)", k, strings.Join(GroupKeyNames(), ", "))
		}
	}
	return nil
}

// GroupKeyNames are the fields --group-by accepts, in schema order.
func GroupKeyNames() []string {
	var out []string
	for _, f := range Fields {
		if !slices.Contains(groupHead, f.Name) && !slices.Contains(GroupSums, f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// GroupFields is the schema of the grouped rows of keys (checked by
// CheckGroupKeys), in output order: timestamp, tick, the keys, then
// connections, the sums and the round-trip times. Offsets are into
// GroupRow.
func GroupFields(keys []string) []Field {
	var out []Field
	for _, n := range groupHead {
		f, _ := FieldByName(n)
		out = append(out, f)
	}
	for _, k := range keys {
		f, _ := FieldByName(k)
		out = append(out, f)
	}
	out = append(out, groupOwn[0]) // connections
	for _, n := range GroupSums {
		f, _ := FieldByName(n)
		out = append(out, f)
	}
	return append(out, groupOwn[1:]...)
}

// taggedFields lists the fields of a record type other than the schema's
// flow row (grouped rows, stats records): a json name, a doc, and the
// offset from base. Fields tagged json:"-" are left out.
func taggedFields(t reflect.Type, base uintptr) []Field {
	var out []Field
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("json")
		if name == "-" {
			continue
		}
		if name == "" || sf.Tag.Get("doc") == "" {
			panic(fmt.Sprintf("conn.%s.%s: json and doc tags must be set", t.Name(), sf.Name))
		}
		f := Field{Name: name, Kind: kindOf(sf.Type), Doc: sf.Tag.Get("doc"), Index: i,
			Type: sf.Type, Offset: base + sf.Offset}
		f.presentation(sf)
		out = append(out, f)
	}
	return out
}
