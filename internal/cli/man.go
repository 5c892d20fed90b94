package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/tcptop/tcptop/internal/conn"
)

// WriteManPage writes tcptop(1) in roff (man macros), generated from the
// kong model and the schema: the options with their defaults and
// environment variables, the output fields, and the description's
// examples and exit codes. `make man` calls it.
func WriteManPage(w io.Writer) error {
	var opts Options
	parser, err := newParser(&opts, io.Discard, io.Discard)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, manPage(parser.Model))
	return err
}

func manPage(app *kong.Application) string {
	var b strings.Builder
	name := app.Name
	paras := strings.Split(app.Help, "\n\n")
	summary := strings.TrimSuffix(paras[0], ".")
	fmt.Fprintf(&b, ".TH %s 1 \"\" %q \"User Commands\"\n", strings.ToUpper(name), name+" "+Version)
	b.WriteString(".nh\n") // no hyphenation: names like TCPTOP_UDP_TIMEOUT stay whole
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", name, roff(strings.ToLower(summary[:1])+summary[1:]))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n[\\fIOPTIONS\\fR]%s\n", name, positionals(app.Positional))

	var examples, exits string
	b.WriteString(".SH DESCRIPTION\n")
	for _, p := range paras[1:] {
		switch {
		case strings.HasPrefix(p, "Examples:"):
			examples = strings.TrimPrefix(p, "Examples:")
		case strings.HasPrefix(p, "Exit codes:"):
			exits = strings.TrimPrefix(p, "Exit codes:")
		default:
			fmt.Fprintf(&b, ".PP\n%s\n", roff(p))
		}
	}

	b.WriteString(".SH OPTIONS\n")
	for _, f := range flagSpecs(app) {
		b.WriteString(".TP\n")
		if f.short != "" {
			fmt.Fprintf(&b, "\\fB\\-%s\\fR, ", f.short)
		}
		fmt.Fprintf(&b, "\\fB\\-\\-%s\\fR", roff(f.long))
		if f.value != "" {
			fmt.Fprintf(&b, "=\\fI%s\\fR", roff(f.value))
		}
		fmt.Fprintf(&b, "\n%s\n", roff(f.help))
		if f.def != "" {
			fmt.Fprintf(&b, "Default: %s.\n", roff(f.def))
		}
		if f.env != "" {
			fmt.Fprintf(&b, "Environment: \\fB%s\\fR.\n", roff(f.env))
		}
	}

	b.WriteString(".SH ENVIRONMENT\n")
	fmt.Fprintf(&b, "Every option that does not print something and exit can be set with an environment variable:\n"+
		"\\fB%s_\\fR and the option's long name in capitals with \\- as _, e.g. \\fB%s_UDP_TIMEOUT=10s\\fR.\n"+
		"An option on the command line wins over its variable.\n", EnvPrefix, EnvPrefix)

	b.WriteString(".SH OUTPUT FIELDS\n")
	b.WriteString("One record per flow per tick. The same names are the NDJSON keys, the CSV header and the variables of \\fB\\-\\-where\\fR.\n")
	for _, f := range conn.Fields {
		fmt.Fprintf(&b, ".TP\n.B %s\n(%s) %s\n", f.Name, f.Kind, roff(f.Doc))
	}

	if exits != "" {
		fmt.Fprintf(&b, ".SH EXIT STATUS\n%s\n", roff(strings.TrimSpace(exits)))
	}
	if examples != "" {
		b.WriteString(".SH EXAMPLES\n.nf\n")
		for _, l := range strings.Split(strings.Trim(examples, "\n"), "\n") {
			fmt.Fprintf(&b, "%s\n", roff(strings.TrimPrefix(l, "  ")))
		}
		b.WriteString(".fi\n")
	}
	b.WriteString(".SH SEE ALSO\n.BR ss (8),\n.BR bpftool (8),\n.BR jq (1)\n")
	return b.String()
}

// positionals writes " [\fIinterval\fR [\fIcount\fR]]" for optional
// positional arguments, each inside the one before.
func positionals(args []*kong.Positional) string {
	var b strings.Builder
	for _, a := range args {
		fmt.Fprintf(&b, " [\\fI%s\\fR", roff(a.Name))
	}
	return b.String() + strings.Repeat("]", len(args))
}

// roff escapes text for a roff line: backslashes, minus signs, and a
// leading dot or quote that would make a line a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
