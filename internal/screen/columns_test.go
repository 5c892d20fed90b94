package screen

import (
	"slices"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestColumnsFromTags: every field with a screen tag is a column of the
// flow view, in the tag's order, with the tag's header, and offered by
// the chooser; a hidden one shows, with its cells as its unit says, once
// chosen. Adding a field with a screen tag needs nothing here.
func TestColumnsFromTags(t *testing.T) {
	fields := conn.Layout(conn.Fields, conn.ScreenView)
	if len(fields) != len(flowColumns) {
		t.Fatalf("%d fields with a screen tag, %d columns", len(fields), len(flowColumns))
	}
	for i, f := range fields {
		c := columns[flowColumns[i]]
		if c.field != f.Name || c.name != f.Screen.Header || c.hidden != f.Screen.Hidden || c.right != f.Right() {
			t.Errorf("column %d is %+v, field %s says %+v", i, c, f.Name, *f.Screen)
		}
	}
	m := NewModel(Config{})
	rows := modelRows()
	rows[0].IdleMillis = 12_345
	m.Tick(t0, rows)
	typeKeys(t, m, "f")
	i := slices.IndexFunc(m.Frame().Choices, func(c Choice) bool { return c.Name == "IDLE" })
	if i < 0 || m.Frame().Choices[i].On {
		t.Fatalf("IDLE not offered, hidden, by the chooser: %+v", m.Frame().Choices)
	}
	typeKeys(t, m, string(chooserKeys[i])+"f")
	lines := Layout(m.Frame(), 250, 10)
	if h := lines[2].Text; !strings.HasSuffix(h, "IDLE") {
		t.Errorf("header: %q", h)
	}
	if !slices.ContainsFunc(lines, func(l Line) bool { return strings.HasSuffix(l.Text, " 12.3s") }) {
		t.Errorf("no row ends with its idle time, 12.3s:\n%v", lines)
	}
}

// TestChooserKeys: the chooser has a key for every column, none of them
// f (which closes it) or q, and no key twice.
func TestChooserKeys(t *testing.T) {
	if len(flowColumns) > len(chooserKeys) {
		t.Errorf("%d columns, %d chooser keys", len(flowColumns), len(chooserKeys))
	}
	for i, k := range []byte(chooserKeys) {
		if k == 'f' || k == 'q' || strings.IndexByte(chooserKeys[:i], k) >= 0 {
			t.Errorf("chooser key %c", k)
		}
	}
}
