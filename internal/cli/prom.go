package cli

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/tcptop/tcptop/internal/emit"
)

// PromOptions are the flags of the Prometheus endpoint. Everything else
// of it lives in internal/metrics, and the engine (internal/run) listens
// and hands the sink each row and each tick's health: this file only
// checks the flags.
type PromOptions struct {
	Listen    string `placeholder:"ADDR" help:"Serve Prometheus metrics on http://ADDR/metrics (OpenMetrics to Prometheus), e.g. :9917 or 127.0.0.1:9917, beside any output (-o none for none): bytes, packets, connections opened, closed and failed, retransmits, lost segments and an RTT histogram per label set of the --group-by fields (default proto,comm,service_port,direction: service_port is the port of the service end, bounded where remote_port is a client's ephemeral port), of the rows --where passes, and tcptop's own health. Counters never go backwards: a closed connection's bytes stay."`
	MaxSeries int    `name:"max-series" default:"1000" placeholder:"N" help:"With --listen: at most N label sets per metric; rows of further ones are counted in the series whose labels are all \"other\" (tcptop_metrics_overflow_rows_total counts them; said once on stderr)."`
}

// validateProm checks --listen, --max-series and -o none; given names the
// flags typed on the command line.
func (o *Options) validateProm(given map[string]bool) error {
	if o.Listen == "" {
		switch {
		case o.Output == emit.None:
			return errors.New("--output none writes nothing: add --listen ADDR to serve the metrics, or pick another format")
		case given["max-series"]:
			return errors.New("--max-series applies to --listen ADDR: add it, or drop --max-series")
		}
		return nil
	}
	if o.MaxSeries < 1 {
		return fmt.Errorf("--max-series must be 1 or more, got %d", o.MaxSeries)
	}
	_, port, err := net.SplitHostPort(o.Listen)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("--listen must be HOST:PORT or :PORT, got %q", o.Listen)
	}
	return nil
}

// outputFormats are -o's choices: the formats that write, and none.
func outputFormats() []string { return append(emit.Formats(), emit.None) }
