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
	var s string
	if err := ctx.Scan.PopValueInto("list", &s); err != nil {
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
