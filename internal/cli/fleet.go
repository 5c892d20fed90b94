package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// FleetOptions are the flags that shape tcptop's output for log stores
// and fleets: which fields, grouped how, with which header and times, and
// the records about tcptop itself.
type FleetOptions struct {
	Fields     []string `type:"list" sep:"," placeholder:"FIELD" complete:"field" help:"Output only these fields, in this order, in every format (NDJSON keys, CSV columns, text columns), e.g. --fields timestamp,comm,remote_addr,bytes_out_delta; with --group-by, among the grouped rows' fields (docs/fields.md). Unknown names are an error that lists the valid ones."`
	GroupBy    []string `name:"group-by" type:"list" sep:"," placeholder:"FIELD" complete:"group-key" help:"One row per distinct value of these fields per tick instead of one per flow, e.g. comm, remote_addr,remote_port or container_id: a connection count, bytes, packets, deltas and rates summed, largest and mean rtt_us. --where picks the flows first."`
	Header     string   `enum:"auto,always,never" default:"auto" help:"The CSV header line and the text column names: auto writes them unless stdout appends to a non-empty file (>>, so cron appends to one file get one header), always, or never."`
	TimeFormat string   `name:"time-format" enum:"${timeformats}" default:"rfc3339" help:"How timestamp and start are written: rfc3339 (2026-01-02T15:04:05.123456Z), unix (seconds, six decimals: 1767366245.123456; a number in NDJSON) or unix_ms (whole milliseconds)."`
	Stats      bool     `help:"End every tick with a record about tcptop itself: rows written, flows tracked, kernel table fill and drops, late ticks, its CPU and memory. In NDJSON a {\"type\":\"stats\",...} line on stdout, even for a tick without rows; in CSV and text a line on stderr."`
	LogFormat  string   `name:"log-format" enum:"text,json" default:"text" help:"Format of the lines on stderr: text (tcptop: ...) or json ({\"time\":...,\"level\":...,\"msg\":...}, one object per line)."`
}

// validate checks the names of --fields and --group-by against the schema,
// and --header against --no-header.
func (o *FleetOptions) validate() error {
	valid := conn.FieldNames()
	if len(o.GroupBy) > 0 {
		if err := conn.CheckGroupKeys(o.GroupBy); err != nil {
			return fmt.Errorf("--group-by: %w", err)
		}
		valid = conn.GroupFieldNames(o.GroupBy)
	}
	if o.Fields != nil {
		for i, f := range o.Fields {
			if !slices.Contains(valid, f) {
				return fmt.Errorf("--fields: unknown field %q (valid: %s)", f, strings.Join(valid, ", "))
			}
			if slices.Contains(o.Fields[:i], f) {
				return fmt.Errorf("--fields: %s named twice", f)
			}
		}
	}
	return nil
}

// validateFleet checks the fleet flags, and how they go with the others.
func (o *Options) validateFleet() error {
	if err := o.FleetOptions.validate(); err != nil {
		return err
	}
	switch {
	case len(o.GroupBy) > 0 && o.Sort != "":
		return errors.New("--sort orders flow rows: grouped rows (--group-by) are ordered by rate, then key")
	case (len(o.GroupBy) > 0 || o.Fields != nil) && o.Screen == "always":
		return errors.New("the live screen shows flows in columns of its own: --fields and --group-by stream (--screen=never)")
	}
	return nil
}

// streams says whether the options want the text stream rather than the
// live screen: the screen has its own columns, and shows flows.
func (o *Options) streams() bool { return len(o.GroupBy) > 0 || o.Fields != nil }

// headerWanted decides --header for stdout: auto writes a header unless
// stdout is a regular file opened for appending (>>) that already has
// something in it. A file opened with > may hold what a script wrote
// before tcptop started, (echo "# report"; tcptop -o csv) > f: the CSV
// after it still needs its header.
func headerWanted(o *Options, stdout io.Writer) (bool, error) {
	switch {
	case o.NoHeader && o.Header == "always":
		return false, errors.New("--no-header and --header=always contradict each other")
	case o.NoHeader || o.Header == "never":
		return false, nil
	case o.Header == "always":
		return true, nil
	}
	f, ok := stdout.(*os.File)
	if !ok {
		return true, nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
		return true, nil
	}
	return !appending(f), nil
}

// appending reports whether f was opened with O_APPEND.
func appending(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var flags int
	var flagsErr error
	if err := rc.Control(func(fd uintptr) { flags, flagsErr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil || flagsErr != nil {
		return false
	}
	return flags&unix.O_APPEND != 0
}

// bareFields turns a --fields without a value (the last argument, or one
// followed by another flag) into --list-fields, what --fields did before
// it took a list.
func bareFields(args []string) []string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "--fields" && (i == len(args)-1 || strings.HasPrefix(args[i+1], "-")) {
			out := slices.Clone(args)
			out[i] = "--list-fields"
			return out
		}
	}
	return args
}
