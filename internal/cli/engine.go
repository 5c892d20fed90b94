package cli

import (
	"io"

	"github.com/tcptop/tcptop/internal/run"
)

// runEngine is the program after flag parsing: check everything the user
// typed, then hand the engine its configuration.
func runEngine(opts *Options, stdout io.Writer, log run.Logger) int {
	cfg, err := engineConfig(opts, stdout)
	if err == nil {
		err = run.Run(cfg, stdout, log)
	}
	if err != nil {
		log.Errorf("%v", err)
		return exitCode(err)
	}
	return ExitOK
}

// engineConfig compiles and checks what the engine takes from opts: the
// filter, the order, the header for stdout and the user. Its errors are
// usage errors, found before anything is attached.
func engineConfig(opts *Options, stdout io.Writer) (run.Config, error) {
	flt, order, err := compileRows(opts)
	if err != nil {
		return run.Config{}, err
	}
	header, err := headerWanted(opts, stdout)
	if err != nil {
		return run.Config{}, usageError{Err: err}
	}
	usr, err := lookupUser(opts.User)
	if err != nil {
		return run.Config{}, err
	}
	return run.Config{
		Output: opts.Output, Fields: opts.Fields, GroupBy: opts.GroupBy, TimeFormat: opts.TimeFormat,
		Header: header, Stats: opts.Stats,
		Filter: flt, FilterText: filterExpr(opts.Where, opts.PIDs), Order: order, Top: opts.Top, Changed: opts.Changed,
		Listeners: opts.Listeners,
		Screen:    opts.Screen, Interval: opts.Interval, Count: opts.Count, PIDs: opts.PIDs,
		Verbose: opts.Verbose, User: usr, Source: sourceConfig(opts),
		Listen: opts.Listen, MaxSeries: opts.MaxSeries,
	}, nil
}
