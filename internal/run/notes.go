package run

import "fmt"

// openingNotes keeps what the source says while it opens (each part lost,
// and under -v each refusal and each same-numbers fallback), so that -v's
// line naming what was attached comes first; once open, warnings go out
// as they come.
type openingNotes struct {
	log      Logger
	verbose  bool
	opened   bool
	warnings []string
	details  []string
}

func (n *openingNotes) warn(format string, args ...any) {
	if n.opened {
		n.log.Printf(format, args...)
		return
	}
	n.warnings = append(n.warnings, fmt.Sprintf(format, args...))
}

func (n *openingNotes) detail(format string, args ...any) {
	if n.verbose {
		n.details = append(n.details, fmt.Sprintf(format, args...))
	}
}

// flush writes what was kept, after the attached line (which the caller
// writes first under -v), and lets later warnings through.
func (n *openingNotes) flush() {
	n.opened = true
	for _, w := range n.warnings {
		n.log.Printf("%s", w)
	}
	for _, d := range n.details {
		n.log.Infof("%s", d)
	}
	n.warnings, n.details = nil, nil
}
