package screen

import (
	"slices"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestModelListenersKey: l shows the listeners' rows with their queue
// columns and tells the engine; the summary never counts them as flows;
// l again hides them. --listeners starts with them shown.
func TestModelListenersKey(t *testing.T) {
	var told []bool
	m := NewModel(Config{Interval: time.Second, OnListeners: func(on bool) { told = append(told, on) }})
	rows := append(modelRows(), conn.Row{Proto: "tcp", Comm: "srv", PID: 9, State: "LISTEN", LocalPort: 80, AcceptQueue: 2, SynQueue: 1, ListenDropsDelta: 3})
	m.Tick(t0, rows)
	view := func() (comms []string, tcp int, headers []string) {
		f := m.Frame()
		for _, r := range f.Rows {
			comms = append(comms, r.Comm)
		}
		for _, c := range f.Cols {
			headers = append(headers, columns[c].name)
		}
		return comms, f.TCP, headers
	}
	for i, step := range []struct {
		key      byte
		srv      bool
		told     []bool
		queueCol bool
	}{
		{0, false, nil, false},
		{'l', true, []bool{true}, true},
		{'l', false, []bool{true, false}, false},
	} {
		if step.key != 0 {
			m.Key(step.key)
		}
		comms, tcp, headers := view()
		if slices.Contains(comms, "srv") != step.srv || tcp != 2 || !slices.Equal(told, step.told) ||
			slices.Contains(headers, "ACCEPTQ") != step.queueCol || slices.Contains(headers, "SYNQ") != step.queueCol {
			t.Errorf("step %d: rows %v, tcp %d, told %v, columns %v", i, comms, tcp, told, headers)
		}
	}
	m = NewModel(Config{Interval: time.Second, Listeners: true})
	m.Tick(t0, rows)
	if comms, _, _ := view(); !slices.Contains(comms, "srv") {
		t.Errorf("--listeners: rows %v, want the listener's", comms)
	}
}
