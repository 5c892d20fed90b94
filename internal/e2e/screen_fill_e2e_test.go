package e2e_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// TestLiveScreenFullShowsMore: with more connections than fit (300 held
// open), the screen fills the terminal to its last line, and that line
// says how many rows are left out, at 120×40 and after a resize to 80×14:
// shown + more = 300.
func TestLiveScreenFullShowsMore(t *testing.T) {
	requireRoot(t)
	tm := newTmux(t)
	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	many := testnet.Start(t, "tt-many", "", "tcp-hold-many", "127.0.0.1:"+strconv.Itoa(sink.Port), "300")
	defer many.Release()

	run := startScreenAt(t, tm, 120, 40, "", "-p", strconv.Itoa(many.PID()), "-i", "0.5")
	for _, size := range [][2]int{{120, 40}, {80, 14}} {
		w, h := size[0], size[1]
		tm.run("resize-window", "-t", "screen", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h))
		tm.waitPane("… N more on the last line at "+strconv.Itoa(w)+"x"+strconv.Itoa(h), 20*time.Second, func(lines []string) bool {
			return fullWithMore(lines, w, h, 300)
		})
	}
	tm.run("send-keys", "-t", "screen", "q")
	run.exited(t, false)
}

var (
	shownRe = regexp.MustCompile(`shown (\d+)/(\d+)`)
	moreRe  = regexp.MustCompile(`^… (\d+) more$`)
)

// fullWithMore: the pane is h lines of at most w runes, the title says
// shown N/total, and its last line "… M more" with N + M = total.
func fullWithMore(lines []string, w, h, total int) bool {
	if len(lines) != h {
		return false
	}
	m := shownRe.FindStringSubmatch(strings.Join(lines, "\n"))
	more := moreRe.FindStringSubmatch(strings.TrimRight(lines[h-1], " "))
	if m == nil || more == nil {
		return false
	}
	shown, _ := strconv.Atoi(m[1])
	all, _ := strconv.Atoi(m[2])
	left, _ := strconv.Atoi(more[1])
	return all == total && shown+left == total && len(screenRows(lines)) == shown
}
