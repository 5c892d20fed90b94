package cli

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// listFlags names the flags that take a comma-separated list. Every
// slice flag of the model must be one of them, so that a new list flag
// cannot skip the empty-item check.
var listFlags = []string{"pid", "sort", "fields", "group-by"}

// TestListFlagsRefuseEmptyItems: on every list flag, an empty value and
// an empty item anywhere are a usage error, on the command line and from
// the flag's environment variable, and one valid item is not.
func TestListFlagsRefuseEmptyItems(t *testing.T) {
	probe := model(t, &Options{})
	found := map[string]bool{}
	for _, f := range probe.Model.Flags {
		if f.Tag.Type == "list" || f.IsSlice() {
			found[f.Name] = true
		}
	}
	for _, name := range listFlags {
		if !found[name] {
			t.Errorf("--%s does not read its value with the list mapper (type:\"list\")", name)
		}
		delete(found, name)
	}
	for name := range found {
		t.Errorf("--%s takes a list but listFlags does not name it", name)
	}
	for _, f := range probe.Model.Flags {
		if !slices.Contains(listFlags, f.Name) {
			continue
		}
		item := "comm"
		if f.Target.Kind() == reflect.Slice && f.Target.Type().Elem().Kind() == reflect.Int {
			item = "1"
		}
		for _, v := range []string{"", item + ",", "," + item, ",", item + ",," + item} {
			want := "tcptop: --" + f.Name + `: an empty item in "` + v + `"`
			t.Run(f.Name+"="+v, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				// -n 1: should a case be accepted, it ends after a tick.
				code := Run([]string{"--" + f.Name + "=" + v, "-n", "1", "-i", "10ms", "-o", "ndjson"}, &stdout, &stderr)
				if code != ExitUsage || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line starting %q", code, stdout.String(), stderr.String(), want)
				}
			})
			t.Run(f.Envs[0]+"="+v, func(t *testing.T) {
				t.Setenv(f.Envs[0], v)
				var stdout, stderr bytes.Buffer
				code := Run([]string{"-n", "1", "-i", "10ms", "-o", "ndjson"}, &stdout, &stderr)
				if code != ExitUsage || !strings.Contains(stderr.String(), `an empty item in "`+v+`"`) || !strings.Contains(stderr.String(), f.Envs[0]) {
					t.Errorf("exit %d, stderr %q; want exit 2 naming the empty item and %s", code, stderr.String(), f.Envs[0])
				}
			})
		}
		t.Run(f.Name+"="+item, func(t *testing.T) {
			var opts Options
			if _, err := model(t, &opts).Parse([]string{"--" + f.Name + "=" + item}); err != nil {
				t.Errorf("--%s=%s: %v", f.Name, item, err)
			}
		})
	}
}

// TestListFlagsAccumulate: a list flag given twice gets both lists, as
// kong's own slices do.
func TestListFlagsAccumulate(t *testing.T) {
	var opts Options
	if _, err := model(t, &opts).Parse([]string{"-p", "1", "--pid", "2,3"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(opts.PIDs, []int{1, 2, 3}) {
		t.Errorf("-p 1 --pid 2,3 gave %v, want [1 2 3]", opts.PIDs)
	}
}
