package metrics

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Server serves a sink's series, with the Go runtime's and the process's
// own (CPU, memory, open files), on Path.
type Server struct {
	srv  *http.Server
	done chan error
}

// Serve serves s on ln until Close. Path answers 503 until the first
// tick has ended, so a readiness probe passes once the probes are
// attached and counting; OpenMetrics is served to a scraper that asks
// for it (Prometheus does), the classic text format otherwise.
func Serve(ln net.Listener, s *Sink) *Server {
	srv := &Server{
		srv:  &http.Server{Handler: handler(s), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute},
		done: make(chan error, 1),
	}
	go func() { srv.done <- srv.srv.Serve(ln) }()
	return srv
}

// Close stops serving, and returns why serving stopped if not Close.
func (s *Server) Close() error {
	err := s.srv.Close()
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// handler answers Path with s's series, with the Go runtime's and the
// process's own.
func handler(s *Sink) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(s, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true, Registry: reg,
		// A scrape collects every label set under the sink's lock:
		// a few at once is all Prometheus and a curl need.
		MaxRequestsInFlight: 4, Timeout: 30 * time.Second,
	})
	mux := http.NewServeMux()
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		if s.Ticks() == 0 {
			http.Error(w, "tcptop has not finished its first tick", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
	return mux
}
