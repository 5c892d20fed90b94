package source

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// The Go side names the programs, maps and variables of bpf/ through the
// constants bpf2go generated from the object, so a renamed program is a
// compile error. These tests, which need no root, catch what the
// compiler cannot: a hook whose kernel target in Go is not where the C
// program attaches, a map or variable read through a Go type of another
// size, and a name typed again as a string.

func embeddedSpec(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := loadTcptop()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// Every hook of every path, and every lifecycle part, attaches where its
// C program's section says: tp_btf/, fexit/, kprobe/ or kretprobe/ and
// the target Go looks up in the kernel's BTF.
func TestHooksMatchTheirPrograms(t *testing.T) {
	spec := embeddedSpec(t)
	all := append([]hook(nil), lifecycleHooks...)
	for _, path := range []string{HooksTracepoint, HooksFexit, HooksKprobe} {
		if len(plans[path]) == 0 {
			t.Errorf("path %s has no hooks", path)
		}
		all = append(all, plans[path]...)
	}
	for _, lp := range lifecycleParts() {
		for _, h := range lp.hooks {
			if h.prog == "" {
				t.Errorf("lifecycle part %q names a program that is not in lifecycleHooks", lp.name)
			}
		}
	}
	for _, h := range all {
		p := spec.Programs[h.prog]
		if p == nil {
			t.Errorf("hook %s: no program %s in the object", h, h.prog)
			continue
		}
		if p.SectionName != h.String() {
			t.Errorf("program %s: SEC(%q) in bpf/, but Go attaches it as %s", h.prog, p.SectionName, h)
		}
	}
}

// The kinds Config.Refuse names, and --check prints, are the sections of
// the programs of each part.
func TestKindsAreTheSectionsOfTheirPrograms(t *testing.T) {
	spec := embeddedSpec(t)
	parts := [][2]string{
		{KindMapIter, tcptopProgTcptopHot}, {KindMapIter, tcptopProgTcptopRefresh},
		{KindWalker, tcptopProgTcptopWalkHot}, {KindWalker, tcptopProgTcptopWalkTable},
		{KindTCPIter, tcptopProgTcptopSweep}, {KindTaskIter, tcptopProgTcptopOwners},
	}
	// A lifecycle part is named by its first program (the resets' two
	// attach to two tracepoints).
	for _, lp := range lifecycleParts() {
		parts = append(parts, [2]string{lp.kind, lp.hooks[0].prog})
	}
	for _, p := range parts {
		if sec := spec.Programs[p[1]].SectionName; sec != p[0] {
			t.Errorf("kind %s: its program %s is SEC(%q)", p[0], p[1], sec)
		}
	}
}

// tcpStateNames names each value of enum tcp_state (bpf/tcptop.h) as the
// enum does, without its TCP_ prefix, and nothing else.
func TestTCPStateNamesMatchTheEnum(t *testing.T) {
	var enum *btf.Enum
	if err := embeddedSpec(t).Types.TypeByName("tcp_state", &enum); err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, name := range tcpStateNames {
		if name != "" {
			named++
		}
	}
	if named != len(enum.Values) {
		t.Errorf("Go names %d states, enum tcp_state has %d", named, len(enum.Values))
	}
	for _, v := range enum.Values {
		if got, want := tcpStateName(uint8(v.Value)), strings.TrimPrefix(v.Name, "TCP_"); got != want {
			t.Errorf("state %d: Go names it %q, bpf/ %s", v.Value, got, v.Name)
		}
	}
}

// The cgroup programs take their attach type from their section: each
// must have one.
func TestCgroupHooksHaveAttachTypes(t *testing.T) {
	spec := embeddedSpec(t)
	for _, name := range cgroupHooks(false) {
		p := spec.Programs[name]
		if p == nil || p.AttachType == ebpf.AttachNone {
			t.Errorf("cgroup program %s: %v has no attach type", name, p)
		}
	}
}

// explainLoadError finds the refused program by its prefix.
func TestProgramNamesMatchLoadErrorPattern(t *testing.T) {
	whole := regexp.MustCompile("^" + programInError.String() + "$")
	for name := range embeddedSpec(t).Programs {
		if !whole.MatchString("program " + name) {
			t.Errorf("program %s: explainLoadError would not name it (%s)", name, programInError)
		}
	}
}

// The maps and variables Go reads or writes with plain Go values (not
// generated types) have the sizes of those values.
func TestPlainValuesMatchTheirSizes(t *testing.T) {
	spec := embeddedSpec(t)
	maps := []struct {
		name       string
		key, value uintptr
	}{
		{tcptopMapWanted, unsafe.Sizeof(uint64(0)), unsafe.Sizeof(uint8(0))}, // owner.go: cookie, want
		{tcptopMapExited, unsafe.Sizeof(uint32(0)), unsafe.Sizeof(uint8(0))}, // owner_exit.go: pid, one
		{tcptopMapHot, unsafe.Sizeof(uint64(0)), unsafe.Sizeof(tcptopHotSock{})},
		{tcptopMapTcpConns, unsafe.Sizeof(uint64(0)), unsafe.Sizeof(tcptopTcpConn{})},
		{tcptopMapUdpFlows, unsafe.Sizeof(tcptopUdpKey{}), unsafe.Sizeof(tcptopUdpFlow{})},
	}
	for _, m := range maps {
		ms := spec.Maps[m.name]
		if uintptr(ms.KeySize) != m.key || uintptr(ms.ValueSize) != m.value {
			t.Errorf("map %s: key %d value %d bytes in bpf/, Go uses %d and %d", m.name, ms.KeySize, ms.ValueSize, m.key, m.value)
		}
	}
	var st Stats
	vars := map[string]uintptr{
		tcptopVarWalkMore:     unsafe.Sizeof(uint32(0)), // iter.go: more
		tcptopVarCloseAtState: unsafe.Sizeof(uint8(0)),  // lifecycle.go: Set(uint8(1))
		tcptopVarCookieHelper: unsafe.Sizeof(false), tcptopVarHaveRingbuf: unsafe.Sizeof(false), tcptopVarIoPairs: unsafe.Sizeof(false),
		tcptopVarUdpTableFull: unsafe.Sizeof(st.UDPTableFull), tcptopVarHotFull: unsafe.Sizeof(st.HotListFull),
		tcptopVarEventsLost: unsafe.Sizeof(st.EventsLost), tcptopVarTcpAdded: unsafe.Sizeof(uint64(0)),
		tcptopVarTcpDeleted: unsafe.Sizeof(uint64(0)), tcptopVarUdpAdded: unsafe.Sizeof(uint64(0)),
	}
	for name, size := range vars {
		if got := uintptr(spec.Variables[name].Size()); got != size {
			t.Errorf("variable %s: %d bytes in bpf/, Go uses %d", name, got, size)
		}
	}
}

// No program, map or variable of the object is named by a string in the
// package's Go code: each goes through its generated constant, which a
// rename in bpf/ turns into a compile error.
func TestNoObjectNameTypedAgain(t *testing.T) {
	spec := embeddedSpec(t)
	names := map[string]string{}
	for n := range spec.Programs {
		names[n] = "program"
	}
	for n := range spec.Maps {
		names[n] = "map"
	}
	for n := range spec.Variables {
		names[n] = "variable"
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "_bpfel.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if kind, found := names[s]; err == nil && found {
				t.Errorf("%s: %s name %q typed again: use bpf2go's constant", fset.Position(lit.Pos()), kind, s)
			}
			return true
		})
	}
}
