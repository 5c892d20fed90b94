package agg

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestFlowStateSize keeps the per-flow state at its budget (docs/design.md):
// 224 bytes, 22.4 MB at 100,000 flows: connect_us, syn_retrans, the
// retransmit kinds and the resets (264 bytes in flowState) live in
// flowExtra, for the few flows that have them, and the Community ID is
// hashed again from the addresses where its text is needed (2026-12-07
// session 20:03: its digest was 20 bytes a flow).
func TestFlowStateSize(t *testing.T) {
	if n := unsafe.Sizeof(flowState{}); n > 224 {
		t.Errorf("flowState is %d bytes, want at most 224", n)
	}
}

// TestNamesCompacted checks that a long run of distinct process names does
// not grow the interned names for ever, and that flows keep theirs.
func TestNamesCompacted(t *testing.T) {
	a := New(Config{Start: t0})
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(tcp(1).pid(1, "keep"))})
	for i := range maxNames + 10 {
		a.Tick(conn.Snapshot{Time: at(float64(i + 2)), Obs: obs(tcp(2).pid(uint32(i+2), fmt.Sprint("name", i)))})
	}
	a.Tick(conn.Snapshot{Time: at(maxNames + 20)})
	if len(a.names.list) > 100 {
		t.Errorf("%d names interned", len(a.names.list))
	}
	rows := rowsOf(t, a, false)
	if len(rows) != 2 || rows[0].Comm != "keep" || rows[1].Comm != fmt.Sprint("name", maxNames+9) {
		t.Errorf("rows %+v", rows)
	}
}

// TestFlowStateHasNoPointers keeps the slab's chunks out of the garbage
// collector's scan: 100,000 flows are 25 MB it would otherwise visit at
// every cycle.
func TestFlowStateHasNoPointers(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		switch ty.Kind() {
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		case reflect.Array:
			walk(ty.Elem(), path+"[]")
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
			t.Errorf("flowState%s is a %s: a pointer", path, ty.Kind())
		}
	}
	walk(reflect.TypeFor[flowState](), "")
}

// TestTouchSize keeps a tick's entry per observed flow at 64 bytes (the
// retransmit kinds' previous counters, 72 in touch, are in flowExtra): the
// first tick has one for every flow.
func TestTouchSize(t *testing.T) {
	if n := unsafe.Sizeof(touch{}); n > 64 {
		t.Errorf("touch is %d bytes, want at most 64", n)
	}
}
