package cli

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// actionFlags print something and exit. They have no environment variable:
// TCPTOP_VERSION=1 left in a unit file would turn the service into a
// command that prints its version and stops.
var actionFlags = []string{"help", "version", "list-fields", "completion", "check"}

// model builds the kong model that Run uses.
func model(t *testing.T, opts *Options) *kong.Kong {
	t.Helper()
	k, err := newParser(opts, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEveryFlagHasAnEnvironmentVariable(t *testing.T) {
	for _, f := range model(t, &Options{}).Model.Flags {
		want := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if slices.Contains(actionFlags, f.Name) {
			if len(f.Envs) != 0 {
				t.Errorf("--%s prints and exits, so it should have no variable, has %v", f.Name, f.Envs)
			}
			continue
		}
		if !slices.Equal(f.Envs, []string{want}) {
			t.Errorf("--%s: variables %v, want [%s] (tag it env:\"-\" and list it in actionFlags only if it prints and exits)", f.Name, f.Envs, want)
		}
	}
}

// sampleValue is a valid value for f other than its default.
func sampleValue(f *kong.Flag) string {
	switch {
	case f.Enum != "":
		return f.EnumSlice()[1] // not the last: -o none alone is refused
	case f.Name == "listen":
		return "127.0.0.1:9917"
	case f.IsBool():
		return "true"
	case f.Target.Type() == reflect.TypeFor[time.Duration]():
		return "7s"
	case f.Target.Kind() == reflect.Int, f.Target.Kind() == reflect.Slice && f.Target.Type().Elem().Kind() == reflect.Int:
		return "7"
	case f.Target.Kind() == reflect.Slice: // --fields, --group-by
		return "comm"
	}
	return "x"
}

func TestEnvironmentSetsEveryFlag(t *testing.T) {
	probe := model(t, &Options{})
	for _, f := range probe.Model.Flags {
		if len(f.Envs) == 0 {
			continue
		}
		t.Run(f.Envs[0], func(t *testing.T) {
			val := sampleValue(f)
			t.Setenv(f.Envs[0], val)
			var opts Options
			k := model(t, &opts)
			if _, err := k.Parse(nil); err != nil {
				t.Fatalf("%s=%s: %v", f.Envs[0], val, err)
			}
			for _, g := range k.Model.Flags {
				if g.Name == f.Name {
					if got := strings.Trim(fmt.Sprint(g.Target.Interface()), "[]"); got != val {
						t.Errorf("%s=%s gave --%s=%s", f.Envs[0], val, f.Name, got)
					}
				}
			}
		})
	}
}

func TestCommandLineWinsOverEnvironment(t *testing.T) {
	t.Setenv("TCPTOP_OUTPUT", "csv")
	t.Setenv("TCPTOP_INTERVAL", "3s")
	var opts Options
	if _, err := model(t, &opts).Parse([]string{"-o", "ndjson"}); err != nil {
		t.Fatal(err)
	}
	if opts.Output != "ndjson" || opts.Interval != 3*time.Second {
		t.Errorf("output %q interval %v, want ndjson (flag) and 3s (variable)", opts.Output, opts.Interval)
	}
}

func TestBadEnvironmentValueIsAUsageError(t *testing.T) {
	for env, want := range map[string]string{"TCPTOP_OUTPUT": "--output", "TCPTOP_INTERVAL": "TCPTOP_INTERVAL", "TCPTOP_COUNT": "--count"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, map[string]string{"TCPTOP_OUTPUT": "xml", "TCPTOP_INTERVAL": "soon", "TCPTOP_COUNT": "-1"}[env])
			var stdout, stderr bytes.Buffer
			if code := Run(nil, &stdout, &stderr); code != ExitUsage || !strings.Contains(stderr.String(), want) {
				t.Errorf("exit %d, stderr %q; want %d naming %s", code, stderr.String(), ExitUsage, want)
			}
		})
	}
}
