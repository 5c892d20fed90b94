package cli

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"
)

// listMapper reads a comma-separated list flag (--fields, --group-by,
// --pid, --sort) and refuses an empty item anywhere in it: ” , 'comm,',
// ',comm' and ',' are typos, and kong's own splitting drops some of them
// silently (--group-by ” gave ungrouped output). The same check holds
// for a value from the flag's environment variable. A slice flag given
// twice gets both lists, as with kong's own.
type listMapper struct{}

func (listMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	s, err := popValue(ctx, "list")
	if err != nil {
		return err
	}
	items := strings.Split(s, ",")
	for _, item := range items {
		if item == "" {
			p, _, _ := strings.Cut(ctx.Value.Tag.PlaceHolder, "[")
			return fmt.Errorf("an empty item in %q (want %s,%s,...)", s, p, p)
		}
	}
	switch {
	case target.Kind() == reflect.String: // --sort, parsed with the row order
		target.SetString(s)
	case target.Kind() == reflect.Slice && target.Type().Elem().Kind() == reflect.String:
		for _, item := range items {
			target.Set(reflect.Append(target, reflect.ValueOf(item).Convert(target.Type().Elem())))
		}
	case target.Kind() == reflect.Slice && target.Type().Elem().Kind() == reflect.Int:
		for _, item := range items {
			n, err := strconv.Atoi(item)
			if err != nil {
				return fmt.Errorf("expected a number but got %q", item)
			}
			target.Set(reflect.Append(target, reflect.ValueOf(n)))
		}
	default:
		return fmt.Errorf("a list of %s is not supported", target.Type())
	}
	return nil
}

// PlaceHolder shows a list in --help as kong does its own: PID,...
func (listMapper) PlaceHolder(f *kong.Flag) string {
	if f.IsSlice() {
		return f.PlaceHolder + ",..."
	}
	return f.PlaceHolder
}

// popValue pops a flag's value as the user gave it. kong's PopValueInto
// copies it through JSON, which turns each byte that is not UTF-8 into
// U+FFFD: the value would be altered before anything read it, and an error
// echoing it would show \xef\xbf\xbd where the user typed \xff (issue 17:
// what is echoed is escaped, not replaced).
func popValue(ctx *kong.DecodeContext, what string) (string, error) {
	t, err := ctx.Scan.PopValue(what)
	if err != nil {
		return "", err
	}
	if s, ok := t.Value.(string); ok {
		return s, nil
	}
	var s string // a typed value (not from the command line): kong's way
	err = ctx.Scan.PushToken(t).PopValueInto(what, &s)
	return s, err
}
