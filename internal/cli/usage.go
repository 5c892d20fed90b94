package cli

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/alecthomas/kong"
)

// What to write instead of a bad value, by flag name: the tail of the
// one-line usage error, after what kong or Validate said was wrong.
var flagFixes = map[string]string{
	"interval":    "give a duration such as 1s or 500ms, or a number of seconds",
	"count":       "give a number of ticks, or 0 to run until interrupted",
	"udp-timeout": "give a duration such as 5s, or 0 to keep idle UDP flows",
	"where":       `give an expression, as in --where 'proto == "tcp"'`,
	"listen":      "give an address and port such as :9917, 127.0.0.1:9917 or [::1]:9917",
	"max-series":  "give the most label sets per metric, such as 1000",
}

// givenOnce rejects a flag that takes a value and was given twice on the
// command line: the last would silently win, and for --where a user
// likely meant both conditions. Flags whose repetition means something
// (slices, counters) and switches may repeat; an environment variable
// does not count as giving the flag.
func givenOnce(ctx *kong.Context) error {
	seen := map[*kong.Flag]bool{}
	for _, p := range ctx.Path {
		f := p.Flag
		if f == nil || p.Resolved || f.IsBool() || f.IsCounter() || f.IsCumulative() {
			continue
		}
		if seen[f] {
			fix := "give it once"
			if f.Name == "where" {
				fix = "combine the conditions with && in one --where"
			}
			return fmt.Errorf("--%s given twice: %s", f.Name, fix)
		}
		seen[f] = true
	}
	return nil
}

// flagInError finds the flag a kong or Validate message is about: they
// start with it ("--interval: expected duration ...", "--count must be
// ...").
var flagInError = regexp.MustCompile(`^--([a-z][a-z-]*)[: ]`)

// usageLine is a usage error as tcptop prints it, after "tcptop: ": the
// problem on one line, and what to do about it. kong's advice for a value
// that starts with a dash (-i -1s: "perhaps try --interval="-1s"?") is
// replaced by the flag's own, as that value is wrong either way; a bad
// value that came from the flag's environment variable says so.
func usageLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if i := strings.Index(msg, " (short flag); perhaps try "); i >= 0 {
		msg = msg[:i]
	}
	if strings.Contains(msg, ` but got "EOL" (<EOL>)`) {
		name, _, _ := strings.Cut(msg, ":")
		msg = name + " needs a value"
	}
	if strings.Contains(msg, " given twice: ") {
		return msg
	}
	m := flagInError.FindStringSubmatch(msg)
	if m == nil {
		return msg + " (see tcptop --help)"
	}
	if env := fromEnv(err, m[1]); env != "" && !strings.Contains(msg, "envar") {
		msg += " (from " + env + ")"
	}
	if fix := flagFixes[m[1]]; fix != "" {
		return msg + ": " + fix
	}
	return msg + " (see tcptop --help)"
}

// fromEnv returns NAME="value" if flag was not on the command line and
// its environment variable is set.
func fromEnv(err error, flag string) string {
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		for _, p := range pe.Context.Path {
			if p.Flag != nil && p.Flag.Name == flag && !p.Resolved {
				return ""
			}
		}
	}
	name := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
	if v, ok := os.LookupEnv(name); ok {
		return fmt.Sprintf("%s=%q", name, v)
	}
	return ""
}
