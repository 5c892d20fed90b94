package screen

import "github.com/tcptop/tcptop/internal/conn"

// stateListen is a listener's state: its rows (--listeners, or l) are
// not flows.
const stateListen = conn.StateListen

// listenerColumns are the columns of a listener's queues, shown with its
// rows (l) and hidden again without.
var listenerColumns = []int{colOf("accept_queue"), colOf("syn_queue"), colOf("listen_drops_delta")}

// showListeners shows or hides the listeners' rows and their columns,
// and tells the engine, which reads them only while they show.
func (m *Model) showListeners(on bool) {
	m.listen = on
	for _, c := range listenerColumns {
		m.hidden[c] = !on
	}
	if m.cfg.OnListeners != nil {
		m.cfg.OnListeners(on)
	}
}
