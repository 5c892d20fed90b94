package cli

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tcptop/tcptop/internal/conn"
)

// shells are the values of --completion.
var shells = []string{"bash", "zsh", "fish"}

// flagSpec is what a completion script or the man page needs to know
// about one flag, read from the kong model so that a new flag appears in
// both without anyone editing them.
type flagSpec struct {
	long    string   // "udp-timeout"
	short   string   // "o", or ""
	help    string   // the whole help text
	value   string   // placeholder of the value ("" for a bool flag)
	choices []string // the enum values, if the flag has any
	def     string   // the default, "" if none worth showing
	env     string   // its environment variable, "" if none
	names   string   // its complete:"..." tag: the nameLists its value is made of
}

// nameLists are the schema names that make up the values of the flags
// tagged complete:"field" (--where, --sort, --fields) and
// complete:"group-key" (--group-by). Completion offers them for the name
// at the end of the word: after a comma, --sort's leading -, or an
// operator of --where.
var nameLists = map[string]func() []conn.Field{
	"field": func() []conn.Field { return conn.Fields },
	"group-key": func() []conn.Field {
		var out []conn.Field
		for _, n := range conn.GroupKeyNames() {
			f, _ := conn.FieldByName(n)
			out = append(out, f)
		}
		return out
	},
}

// listNames are the names of nameLists[list].
func listNames(list string) []string {
	var out []string
	for _, f := range nameLists[list]() {
		out = append(out, f.Name)
	}
	return out
}

// usedLists are the nameLists some flag takes, sorted.
func usedLists(flags []flagSpec) []string {
	var out []string
	for _, f := range flags {
		if f.names != "" && !slices.Contains(out, f.names) {
			out = append(out, f.names)
		}
	}
	slices.Sort(out)
	return out
}

// shellIdent makes a list's name part of a shell function name.
func shellIdent(list string) string { return strings.ReplaceAll(list, "-", "_") }

// summary is the help text's first sentence, for completion menus.
func (f flagSpec) summary() string { return shortLine(f.help) }

// maxSummary is the longest description a completion menu shows (in
// runes): more wraps or is cut by the shell.
const maxSummary = 60

// minSummary is the shortest clause shortLine keeps on its own.
const minSummary = 12

// shortLine makes a help or doc text one short line: its first sentence up
// to the first colon, semicolon or parenthesis (unless that leaves only a
// word or two: "TCP: segments ..."), and, if that is still long, up to the
// last comma or word boundary that fits, with an ellipsis.
func shortLine(s string) string {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '.' && s[i+1] == ' ' && !strings.HasSuffix(s[:i], "e.g") {
			s = s[:i]
			break
		}
	}
	for _, sep := range []string{", e.g.", ": ", "; ", " ("} {
		if head, _, ok := strings.Cut(s, sep); ok && len(head) >= minSummary {
			s = head
		}
	}
	s = strings.TrimSuffix(s, ".")
	r := []rune(s)
	if len(r) <= maxSummary {
		return s
	}
	head := string(r[:maxSummary-1])
	if i := strings.LastIndex(head, ", "); i > maxSummary/2 {
		return head[:i]
	}
	if i := strings.LastIndex(head, " "); i > 0 {
		head = head[:i]
	}
	return strings.TrimRight(head, ",") + "…"
}

var durationType = reflect.TypeFor[time.Duration]()

// flagSpecs lists the visible flags of app in the order of --help.
func flagSpecs(app *kong.Application) []flagSpec {
	var out []flagSpec
	for _, f := range app.Flags {
		if f.Hidden {
			continue
		}
		s := flagSpec{long: f.Name, help: f.Help}
		if f.Short != 0 {
			s.short = string(f.Short)
		}
		if len(f.Envs) > 0 {
			s.env = f.Envs[0]
		}
		if list := f.Tag.Get("complete"); nameLists[list] != nil {
			s.names = list
		}
		if !f.IsBool() {
			if f.Enum != "" {
				s.choices = f.EnumSlice()
			}
			switch {
			case len(s.choices) > 0:
				s.value = strings.Join(s.choices, "|")
			case f.PlaceHolder != "":
				s.value = f.PlaceHolder
			case f.Target.Type() == durationType:
				s.value = "DURATION"
			case f.Target.Kind() == reflect.Int:
				s.value = "N"
			default:
				s.value = "VALUE"
			}
			s.def = f.Default
		}
		out = append(out, s)
	}
	return out
}

// writeCompletion prints the completion script for shell.
func writeCompletion(stdout, stderr io.Writer, app *kong.Application, shell string) int {
	flags := flagSpecs(app)
	var err error
	switch shell {
	case "bash":
		err = bashCompletion(stdout, app.Name, flags)
	case "zsh":
		err = zshCompletion(stdout, app.Name, flags)
	case "fish":
		err = fishCompletion(stdout, app.Name, flags)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tcptop: write completion: %v\n", err)
		return ExitRuntime
	}
	return ExitOK
}

// bashCompletion needs nothing but bash (not the bash-completion package).
// "--output=nd" reaches the function as three words, "--output" "=" "nd",
// because "=" is in COMP_WORDBREAKS.
func bashCompletion(w io.Writer, name string, flags []flagSpec) error {
	fn := "_" + name
	var all []string
	var b strings.Builder
	fmt.Fprintf(&b, "# bash completion for %s, generated by: %s --completion=bash\n", name, name)
	fmt.Fprintf(&b, "# Load it with: source <(%s --completion=bash)\n", name)
	// The name under the cursor is what follows the word's last character
	// that cannot be part of one; a quote that opens --where's expression
	// is readline's, not part of the completion.
	fmt.Fprintf(&b, "# %s_names NAMES: the names that complete the one at the end of $cur.\n", fn)
	fmt.Fprintf(&b, "%s_names() {\n", fn)
	b.WriteString("\tlocal last=${cur##*[!a-z0-9_]} head=\n")
	b.WriteString("\thead=${cur%\"$last\"}\n\thead=${head#[\\\"\\']}\n")
	b.WriteString("\tmapfile -t COMPREPLY < <(compgen -P \"$head\" -W \"$1\" -- \"$last\")\n}\n")
	fmt.Fprintf(&b, "%s() {\n", fn)
	b.WriteString("\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= flag=\n")
	b.WriteString("\t((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	b.WriteString("\tif [[ $cur == = ]]; then\n\t\tflag=$prev cur=\n")
	b.WriteString("\telif [[ $prev == = ]] && ((COMP_CWORD > 1)); then\n\t\tflag=${COMP_WORDS[COMP_CWORD-2]}\n")
	b.WriteString("\telse\n\t\tflag=$prev\n\tfi\n")
	b.WriteString("\tcase $flag in\n")
	var free []string
	byList := map[string][]string{} // name list → the flags that take it
	for _, f := range flags {
		all = append(all, "--"+f.long)
		names := "--" + f.long
		if f.short != "" {
			all = append(all, "-"+f.short)
			names = "-" + f.short + "|" + names
		}
		switch {
		case f.names != "":
			byList[f.names] = append(byList[f.names], names)
		case len(f.choices) > 0:
			fmt.Fprintf(&b, "\t%s)\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\t\t;;\n", names, strings.Join(f.choices, " "))
		case f.value != "":
			free = append(free, names)
		}
	}
	for _, list := range usedLists(flags) {
		fmt.Fprintf(&b, "\t%s)\n\t\t%s_names %q\n\t\treturn\n\t\t;;\n", strings.Join(byList[list], "|"), fn, strings.Join(listNames(list), " "))
	}
	if len(free) > 0 {
		fmt.Fprintf(&b, "\t%s)\n\t\treturn # a value of the user's own\n\t\t;;\n", strings.Join(free, "|"))
	}
	b.WriteString("\tesac\n")
	fmt.Fprintf(&b, "\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n}\n", strings.Join(all, " "))
	fmt.Fprintf(&b, "complete -F %s %s\n", fn, name)
	_, err := io.WriteString(w, b.String())
	return err
}

// zshCompletion works both as an autoloaded function (a file named
// _tcptop in $fpath) and when sourced after compinit.
func zshCompletion(w io.Writer, name string, flags []flagSpec) error {
	fn := "_" + name
	var b strings.Builder
	fmt.Fprintf(&b, "#compdef %s\n# zsh completion for %s, generated by: %s --completion=zsh\n", name, name, name)
	fmt.Fprintf(&b, "# Install it as %s in a directory of $fpath, or: source <(%s --completion=zsh)\n", fn, name)
	for _, list := range usedLists(flags) {
		// compset leaves what precedes the name under the cursor (a
		// comma, --sort's -, an operator) as it is.
		fmt.Fprintf(&b, "%s_%s() {\n\tlocal -a names=(\n", fn, shellIdent(list))
		for _, f := range nameLists[list]() {
			fmt.Fprintf(&b, "\t\t'%s:%s'\n", f.Name, strings.ReplaceAll(shortLine(f.Doc), "'", `'\''`))
		}
		fmt.Fprintf(&b, "\t)\n\tcompset -P '*[^a-z0-9_]'\n\t_describe -t %s %s names\n}\n", shellIdent(list), list)
	}
	fmt.Fprintf(&b, "%s() {\n\t_arguments -s -S \\\n", fn)
	for _, f := range flags {
		excl := "(--" + f.long + ")"
		if f.short != "" {
			excl = "(-" + f.short + " --" + f.long + ")"
		}
		action := ""
		switch {
		case f.names != "":
			action = ":" + zshQuote(strings.ToLower(f.value)) + ":" + fn + "_" + shellIdent(f.names)
		case len(f.choices) > 0:
			action = ":" + zshQuote(f.long) + ":(" + strings.Join(f.choices, " ") + ")"
		case f.value != "":
			action = ":" + zshQuote(strings.ToLower(f.value)) + ": "
		}
		desc := "[" + zshQuote(f.summary()) + "]"
		if f.short != "" {
			sep := ""
			if f.value != "" {
				sep = "+"
			}
			fmt.Fprintf(&b, "\t\t'%s-%s%s%s%s' \\\n", excl, f.short, sep, desc, action)
		}
		sep := ""
		if f.value != "" {
			sep = "="
		}
		fmt.Fprintf(&b, "\t\t'%s--%s%s%s%s' \\\n", excl, f.long, sep, desc, action)
	}
	b.WriteString("\t\t&& return 0\n\treturn 1\n}\n")
	fmt.Fprintf(&b, "if [[ $funcstack[1] == %s ]]; then\n\t%s \"$@\"\nelse\n\tcompdef %s %s\nfi\n", fn, fn, fn, name)
	_, err := io.WriteString(w, b.String())
	return err
}

// zshQuote makes s safe inside a single-quoted _arguments spec.
func zshQuote(s string) string {
	return strings.NewReplacer(`'`, `'\''`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
}

// fishCompletion: -x marks flags that take a value (and no file name).
func fishCompletion(w io.Writer, name string, flags []flagSpec) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %s, generated by: %s --completion=fish\n", name, name)
	fmt.Fprintf(&b, "# Install it as ~/.config/fish/completions/%s.fish, or: %s --completion=fish | source\n", name, name)
	for _, list := range usedLists(flags) {
		// The candidates keep what precedes the name under the cursor (a
		// comma, --sort's -, an operator), as fish matches whole values;
		// fish matches them without "--flag=" and an opening quote, and
		// quotes what it inserts as the user began to.
		fmt.Fprintf(&b, "function __%s_%s\n", name, shellIdent(list))
		b.WriteString("\tset -l head (commandline -ct | string replace -r -- '^--[a-z-]+=' '' | string replace -r -- '^[\\'\"]' '' | string replace -r -- '[a-z0-9_]*$' '')\n\tset -l names")
		for _, f := range nameLists[list]() {
			fmt.Fprintf(&b, " \\\n\t\t%s\\t%s", f.Name, fishQuote(shortLine(f.Doc)))
		}
		b.WriteString("\n\tprintf '%s\\n' \"$head\"$names\nend\n")
	}
	fmt.Fprintf(&b, "complete -c %s -f\n", name)
	for _, f := range flags {
		fmt.Fprintf(&b, "complete -c %s", name)
		if f.short != "" {
			fmt.Fprintf(&b, " -s %s", f.short)
		}
		fmt.Fprintf(&b, " -l %s", f.long)
		if f.value != "" {
			b.WriteString(" -x")
		}
		switch {
		case f.names != "":
			fmt.Fprintf(&b, " -a '(__%s_%s)'", name, shellIdent(f.names))
		case len(f.choices) > 0:
			fmt.Fprintf(&b, " -a %s", fishQuote(strings.Join(f.choices, " ")))
		}
		fmt.Fprintf(&b, " -d %s\n", fishQuote(f.summary()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fishQuote single-quotes s for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
