// Command bench-scale measures tcptop on a host holding many TCP
// connections: it opens N established loopback connections spread over
// several processes (one process may hold at most 20,000 files here),
// keeps a share of them active with request/response traffic, and reports
// per tick tcptop's CPU time and memory, against `ss -tin` and `ss -tinp`
// dumping the same sockets in the same run. Needs root. `make bench-scale`
// runs it; docs/performance.md has a run.
//
//	bench-scale -tcptop bin/tcptop -n 10000,50000 -active 0.01 -ticks 10
//
// With -listen ADDR, each steady-tick run serves Prometheus metrics there
// and is scraped every -scrape (from the first second on), its scrapes'
// cost counted in its CPU.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && roles[os.Args[1]] != nil {
		if err := roles[os.Args[1]](os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "bench-scale %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	var sizes string
	flag.StringVar(&cfg.tcptop, "tcptop", "bin/tcptop", "the tcptop binary to measure")
	flag.StringVar(&sizes, "n", "10000,50000", "numbers of established connections (each is two sockets), comma-separated")
	flag.Float64Var(&cfg.active, "active", 0.01, "share of the connections kept busy with request/response traffic")
	flag.IntVar(&cfg.ticks, "ticks", 10, "ticks of tcptop measured, after the warm-up")
	flag.DurationVar(&cfg.soak, "soak", 0, "also run tcptop this long at the largest size, sampling its memory every minute")
	flag.BoolVar(&cfg.changed, "changed", true, "also measure tcptop --changed (false for a tcptop that predates the flag)")
	flag.StringVar(&cfg.fields, "fields", "", "also measure tcptop --fields with this list (what a narrower row costs)")
	flag.StringVar(&cfg.listen, "listen", "", "run every tcptop of the steady ticks with --listen ADDR and scrape its /metrics every -scrape, as issue 20 asks (\"\": no endpoint)")
	flag.DurationVar(&cfg.scrape, "scrape", 15*time.Second, "with -listen, the scrape interval (Prometheus's own default is 1m; 15s is common; its e2e test scrapes every 1s)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fail(fmt.Errorf("needs root, to load tcptop's probes"))
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-n: %q is not a positive number", s))
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	if err := run(&cfg); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench-scale: %v\n", err)
	os.Exit(1)
}

type config struct {
	tcptop  string
	sizes   []int
	active  float64
	ticks   int
	soak    time.Duration
	changed bool
	fields  string
	listen  string
	scrape  time.Duration
}

func run(cfg *config) error {
	host, _ := os.Hostname()
	kernel, _ := exec.Command("uname", "-r").Output()
	fmt.Printf("# bench-scale %s, %s, Linux %s, %d CPUs, active share %.0f%%, %d ticks of 1s per run\n",
		time.Now().UTC().Format("2006-01-02 15:04"), host, strings.TrimSpace(string(kernel)), numCPU(), cfg.active*100, cfg.ticks)
	for i, n := range cfg.sizes {
		if err := measureSize(cfg, n, cfg.soak > 0 && i == len(cfg.sizes)-1); err != nil {
			return err
		}
	}
	return nil
}

// measureSize holds n connections and measures tcptop against ss on them.
func measureSize(cfg *config, n int, soak bool) error {
	load, err := startLoad(n, int(float64(n)*cfg.active))
	if err != nil {
		return err
	}
	defer load.stop()
	sockets := 2 * n
	fmt.Printf("\n## %d established connections (%d sockets), %d active\n\n", n, sockets, load.active)
	fmt.Printf("| what | CPU per tick | per socket | peak RSS |\n|---|---|---|---|\n")
	ssTin := medianCPU(3, "ss", "-tin")
	ssTinp := medianCPU(3, "ss", "-tinp")
	row := func(what string, cpu time.Duration, rss int64) {
		rssText := "–"
		if rss > 0 {
			rssText = fmt.Sprintf("%.1f MiB", float64(rss)/(1<<20))
		}
		fmt.Printf("| %s | %.1f ms | %.2f µs | %s |\n", what, ms(cpu), float64(cpu.Nanoseconds())/1e3/float64(sockets), rssText)
	}
	row("`ss -tin`, one dump", ssTin.cpu, ssTin.rss)
	row("`ss -tinp`, one dump", ssTinp.cpu, ssTinp.rss)
	variants := [][]string{nil}
	if cfg.changed {
		variants = append(variants, []string{"--changed"})
	}
	if cfg.fields != "" {
		variants = append(variants, []string{"--fields", cfg.fields})
	}
	for _, extra := range variants {
		m, err := measureTcptop(cfg, extra, cfg.ticks, 0)
		if err != nil {
			return err
		}
		what := "`tcptop -o ndjson " + strings.Join(extra, " ") + "`"
		if cfg.listen != "" {
			what = fmt.Sprintf("`tcptop -o ndjson %s --listen` (scraped every %v: %d scrapes, each %.0f KiB)",
				strings.Join(extra, " "), cfg.scrape, m.scrapes, float64(m.scrapeBytes)/float64(max(m.scrapes, 1))/1024)
		}
		row(what+", steady tick", m.perTick, m.peakRSS)
		fmt.Printf("|   (its first tick: sweep of every socket and owner lookup) | %.1f ms | | |\n", ms(m.firstTick))
	}
	snap := medianCPU(3, cfg.tcptop, "-o", "csv", "-n", "1")
	row("`tcptop -o csv -n 1`, whole run", snap.cpu, snap.rss)
	fmt.Printf("\nRatios: `tcptop -o csv -n 1` / `ss -tinp` = **%.2f**\n", snap.cpu.Seconds()/ssTinp.cpu.Seconds())
	if soak {
		m, err := measureTcptop(cfg, []string{"--changed"}, int(cfg.soak/time.Second), time.Minute)
		if err != nil {
			return err
		}
		fmt.Printf("\nSoak, %v of `tcptop -o ndjson --changed`: CPU per tick %.1f ms, RSS every minute (MiB):", cfg.soak, ms(m.perTick))
		for _, r := range m.rssSamples {
			fmt.Printf(" %.1f", float64(r)/(1<<20))
		}
		fmt.Printf("; peak %.1f MiB\n", float64(m.peakRSS)/(1<<20))
	}
	// Figures over fewer sockets than announced are void.
	if est := establishedSockets(); est < sockets {
		return fmt.Errorf("only %d TCP sockets still established at the end, of the %d held: the figures above are void", est, sockets)
	}
	return nil
}

// establishedSockets counts the host's established TCP sockets (ss -s).
func establishedSockets() int {
	out, _ := exec.Command("ss", "-s").Output()
	m := regexp.MustCompile(`estab (\d+)`).FindSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
