package emit

import (
	stdjson "encoding/json"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestUsualRuns: a run of 64-bit columns with their usual values
// (connect_us and syn_retrans -1, the listeners' fields 0) is written as
// one text, and a row that leaves the usual values anywhere in the run
// (first, middle, last column) has every value as the row holds it.
func TestUsualRuns(t *testing.T) {
	type v struct{ connect, syns, acceptQ, synQ int64 }
	cases := []v{{-1, -1, 0, 0}, {0, -1, 0, 0}, {1500, 2, 0, 0}, {-1, 0, 0, 0}, {-1, -1, 7, 0}, {-1, -1, 0, 3}, {-2, -1, 0, 0}}
	rows := make([]conn.Row, len(cases))
	for i, c := range cases {
		rows[i] = conn.Row{Proto: "tcp", UID: -1, ConnectMicros: c.connect, SynRetrans: c.syns, AcceptQueue: c.acceptQ, SynQueue: c.synQ}
	}
	out, _ := writeRows(t, "ndjson", false, rows)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d lines for %d rows", len(lines), len(cases))
	}
	for i, l := range lines {
		var got struct {
			Connect int64 `json:"connect_us"`
			Syns    int64 `json:"syn_retrans"`
			AcceptQ int64 `json:"accept_queue"`
			SynQ    int64 `json:"syn_queue"`
			UID     int64 `json:"uid"`
		}
		if err := stdjson.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if w := cases[i]; got.Connect != w.connect || got.Syns != w.syns || got.AcceptQ != w.acceptQ || got.SynQ != w.synQ || got.UID != -1 {
			t.Errorf("line %d: %+v, want %+v and uid -1", i, got, w)
		}
	}
	if !strings.Contains(lines[0], `"connect_us":-1,"syn_retrans":-1,"accept_queue":0,"accept_queue_max":0,"listen_drops":0,"listen_drops_delta":0,"syn_queue":0`) {
		t.Errorf("the usual run's text is not in %s", lines[0])
	}
}
