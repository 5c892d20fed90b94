package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tcptop/tcptop/internal/escape"
)

// Logger writes tcptop's lines on stderr: "tcptop: ..." (--log-format
// text), or one JSON object per line (--log-format json):
//
//	{"time":"2026-01-02T15:04:05.123456Z","level":"warn","msg":"..."}
//
// time is when the line was written (UTC, the timestamp's format); level
// is "error" (what tcptop exits with), "warn" (something was lost or
// looks wrong) or "info" (-v, and --stats in CSV and text). A JSON line
// is written with one Write. Every message is escaped (escape.Line): it
// may echo what a user typed or a process named, and a line on stderr
// must not carry a terminal escape or a second line.
type Logger struct {
	w    io.Writer
	json bool
	now  func() time.Time
}

// newLogger returns a Logger of text lines.
func newLogger(w io.Writer) Logger { return NewLogger(w, "text") }

// NewLogger returns a Logger of lines in format, text or json
// (--log-format).
func NewLogger(w io.Writer, format string) Logger {
	return Logger{w: w, json: format == "json", now: time.Now}
}

// Printf logs a warning.
func (l Logger) Printf(format string, args ...any) { l.log("warn", fmt.Sprintf(format, args...), nil) }

// Infof logs what -v asks for.
func (l Logger) Infof(format string, args ...any) { l.log("info", fmt.Sprintf(format, args...), nil) }

// Errorf logs what tcptop exits with.
func (l Logger) Errorf(format string, args ...any) { l.log("error", fmt.Sprintf(format, args...), nil) }

// log writes one line. extra, a JSON object's members without braces
// (`"a":1,"b":2`), is added to a JSON line after msg.
func (l Logger) log(level, msg string, extra []byte) {
	msg = escape.Line(msg)
	if !l.json {
		fmt.Fprintf(l.w, "tcptop: %s\n", msg)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"time":"`)
	b.WriteString(l.now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	b.WriteString(`","level":"`)
	b.WriteString(level)
	b.WriteString(`","msg":`)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(msg)     // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
	if len(extra) > 0 {
		b.WriteByte(',')
		b.Write(extra)
	}
	b.WriteString("}\n")
	_, _ = l.w.Write(b.Bytes())
}
