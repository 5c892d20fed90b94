package screen

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/filter"
)

// keyDoc is one line of the keys' documentation: the keys, what they do
// in a word (for --help), and in a sentence (for the help screen).
type keyDoc struct {
	keys, word, does string
}

// keyDocs document the screen's keys, in one place: the help screen,
// --help and the README say what they say.
var keyDocs = []keyDoc{
	{"q", "quit", "quit (Ctrl-C too)"},
	{"s/S", "sort", "sort by the next / previous column: rate (RX/s + TX/s), RX/s, TX/s, RX, TX, packets, RTT, PID, COMM, REMOTE (those shown)"},
	{"r", "reverse", "reverse the sort"},
	{"p", "pause", "pause the screen (counting goes on)"},
	{"t/u", "TCP/UDP only", "only TCP / only UDP (the same key again: both)"},
	{"w", "filter", "filter: type a --where expression (as top's o); Enter applies it (with --where, both must hold), empty clears, Esc keeps the old one"},
	{"f", "columns", "choose the columns: " + hiddenNames(8) + " and the others"},
	{"n", "names", "REMOTE shows the DNS name its namespace resolved (remote_name) instead of the address, where there is one (n again: addresses)"},
	{"l", "listeners", "listeners too: LISTEN rows with ACCEPTQ, SYNQ, LDROPS (l again: off)"},
	{"g", "by process", "one row per process (pid and name), as nethogs: its flows counted, their bytes and rates summed (g again: flows)"},
	{"?", "help", "this help (any other key closes it)"},
}

// hiddenNames names the first n columns hidden at start: all of them
// would not leave the help room at 80x24.
func hiddenNames(n int) string {
	var names []string
	for _, c := range hiddenAtStart[:min(n, len(hiddenAtStart))] {
		names = append(names, columns[c].name)
	}
	return strings.Join(names, ", ")
}

// KeysSummary lists the keys in a few words, for --help.
func KeysSummary() string {
	var parts []string
	for _, k := range keyDocs {
		parts = append(parts, k.keys+" "+k.word)
	}
	return strings.Join(parts, ", ")
}

// helpWidth is the widest the help screen's sentences wrap: two columns
// short of an 80-column terminal, so that at 80x24 the whole help fits
// below the three top lines even with a message shown (20 lines).
const helpWidth = 78

// helpAbout says what the rows are, after the keys.
const helpAbout = "Rows: the last tick's flows that --where, -p and w let through; " +
	"closed ones stay a few ticks, marked CLOSED. RX, TX: bytes received, sent; " +
	"/s: per second."

// helpText is the help screen for a screen width runes wide: the keys,
// then what the rows are, wrapped (not cut) where the screen is narrower
// than helpWidth.
func helpText(width int) string {
	width = max(min(width, helpWidth), 20)
	var b strings.Builder
	b.WriteString("Keys\n")
	for _, k := range keyDocs {
		lead := "  " + k.keys + strings.Repeat(" ", max(8-len(k.keys), 1))
		for i, l := range wrap(k.does, width-len(lead)) {
			if i > 0 {
				lead = strings.Repeat(" ", len(lead))
			}
			b.WriteString(lead + l + "\n")
		}
	}
	b.WriteString("\n" + strings.Join(wrap(helpAbout, width), "\n"))
	return b.String()
}

// wrap breaks text into lines of at most width runes, at blanks.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			lines, line = append(lines, line), ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// Key acts on one key and reports whether it asks to quit: q (or
// Ctrl-C, which raw mode turns into a key). While the help shows, any
// other key closes it; while a filter is typed or the columns chosen,
// keys go there (and only Ctrl-C quits).
func (m *Model) Key(k byte) (quit bool) {
	if k == 3 {
		return true
	}
	m.stale = true
	switch {
	case m.keys.editing:
		m.editKey(k)
		return false
	case m.keys.choosing:
		m.chooseKey(k)
		return false
	case k == 'q' || k == 'Q':
		return true
	case m.help:
		m.help = false
		return false
	}
	switch k {
	case 's':
		m.setSort(m.sort, 1)
	case 'S':
		m.setSort(m.sort, -1)
	case 'r':
		m.desc = !m.desc
	case 'p':
		m.paused = !m.paused
		m.shown = m.live
	case 't', 'u':
		p := map[byte]string{'t': "tcp", 'u': "udp"}[k]
		if m.proto == p {
			p = ""
		}
		m.proto = p
	case 'w', 'o':
		m.keys.editing, m.keys.edit = true, []rune(m.where.text)
	case 'f':
		m.keys.choosing = true
	case 'n':
		m.names = !m.names
	case 'l':
		m.showListeners(!m.listen)
	case 'g':
		m.procs = !m.procs
		if m.sort >= 0 && !m.sortShown(m.sort) {
			m.setSort(m.sort, 1)
		}
	case '?', 'h':
		m.help = true
	default:
		m.stale = false
		return false
	}
	return false
}

// setSort moves from sort i by step (1 or -1), wrapping around, to the
// next sort of a column the view has, in that sort's own direction.
func (m *Model) setSort(i, step int) {
	for range sorts {
		i = (i + step + len(sorts)) % len(sorts)
		if m.sortShown(i) {
			break
		}
	}
	m.sort, m.desc = i, sorts[i].desc
}

// sortShown reports whether one of sort i's columns is in the view.
func (m *Model) sortShown(i int) bool {
	for _, c := range sorts[i].cols {
		if !m.hidden[c] && slices.Contains(m.offered(), c) {
			return true
		}
	}
	return false
}

// keyState is what keys are typed into: the filter being edited, the
// column chooser.
type keyState struct {
	editing  bool
	edit     []rune
	choosing bool
}

// frame puts the editor or the chooser in f.
func (s *keyState) frame(f *Frame, m *Model) {
	f.Editing, f.Edit = s.editing, string(s.edit)
	if !s.choosing {
		return
	}
	f.Choices = []Choice{}
	for i, c := range m.offered() {
		f.Choices = append(f.Choices, Choice{Key: chooserKeys[i], Name: columns[c].name, On: !m.hidden[c]})
	}
}

// filterSays begins a message about the typed filter.
const filterSays = "w filter: "

// Keys typed while editing a filter.
const (
	keyEnter     = '\r'
	keyNewline   = '\n'
	keyEsc       = 0x1b
	keyBackspace = 0x7f
	keyCtrlH     = 0x08
	keyCtrlU     = 0x15
)

// editKey types k into the filter: Enter compiles and applies it (an
// error shows, and the editor stays open to mend it), Esc leaves it as it
// was. A key of several bytes (an arrow) ends the editor with its Esc;
// the rest of its bytes are keys of the screen that do nothing.
func (m *Model) editKey(k byte) {
	s := &m.keys
	switch k {
	case keyEnter, keyNewline:
		text := strings.TrimSpace(string(s.edit))
		f, err := filter.Compile(text)
		if err != nil {
			m.Say(m.cfg.Now(), filterSays+err.Error())
			return
		}
		m.where, s.editing = where{text, f}, false
		if strings.HasPrefix(m.msg.text, filterSays) {
			m.msg = message{} // the filter's error is mended
		}
	case keyEsc:
		s.editing = false
	case keyBackspace, keyCtrlH:
		if len(s.edit) > 0 {
			s.edit = s.edit[:len(s.edit)-1]
		}
	case keyCtrlU:
		s.edit = s.edit[:0]
	default:
		if k >= ' ' && k < 0x7f { // printable ASCII: what --where's names and operators are written in
			s.edit = append(s.edit, rune(k))
		}
	}
}

// chooserKeys are the keys of the columns in the chooser, in order: not
// f, which closes it, nor q; capitals once the small letters run out.
const chooserKeys = "abcdeghijklmnoprstuvwxyzABCDEGHIJKLMNOPRSTUVWXYZ"

// chooseKey shows or hides the column of key k; f, Enter or Esc closes
// the chooser.
func (m *Model) chooseKey(k byte) {
	switch k {
	case 'f', keyEnter, keyNewline, keyEsc:
		m.keys.choosing = false
		return
	}
	i := strings.IndexByte(chooserKeys, k)
	if cols := m.offered(); i >= 0 && i < len(cols) {
		m.hidden[cols[i]] = !m.hidden[cols[i]]
	}
}
