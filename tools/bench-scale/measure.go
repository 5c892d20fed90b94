package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

// usage is a finished command's CPU time and peak memory.
type usage struct {
	cpu time.Duration
	rss int64 // bytes
}

// medianCPU runs a command `runs` times with its output thrown away and
// returns the run with the median CPU time (user + system, from the
// kernel's accounting of the finished process).
func medianCPU(runs int, name string, args ...string) usage {
	var us []usage
	for range runs {
		cmd := exec.Command(name, args...)
		if err := cmd.Run(); err != nil {
			fail(fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		us = append(us, usage{
			cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
			rss: ru.Maxrss << 10,
		})
	}
	slices.SortFunc(us, func(a, b usage) int { return int(a.cpu - b.cpu) })
	return us[len(us)/2]
}

// tcptopRun is what one run of tcptop cost.
type tcptopRun struct {
	firstTick  time.Duration // from attached to just after the first tick
	perTick    time.Duration // per tick, from the third tick on
	peakRSS    int64
	rssSamples []int64
	// With -listen: the scrapes of /metrics answered 200, and their
	// bytes in all.
	scrapes, scrapeBytes int64
}

// measureTcptop runs tcptop at 1 s ticks with its output thrown away and
// samples its CPU time (the kernel's per-thread run time, in ns) after it
// attached, after the first tick, and over `ticks` ticks from the third
// on. With sampleEvery set, it also samples its memory that often.
func measureTcptop(cfg *config, extra []string, ticks int, sampleEvery time.Duration) (tcptopRun, error) {
	var r tcptopRun
	args := append([]string{"-v", "-o", "ndjson", "-i", "1s"}, extra...)
	if cfg.listen != "" {
		args = append(args, "--listen", cfg.listen)
	}
	cmd := exec.Command(cfg.tcptop, args...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return r, err
	}
	defer devnull.Close()
	cmd.Stdout = devnull
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	for !strings.Contains(sc.Text(), "attached") {
		if !sc.Scan() {
			return r, fmt.Errorf("tcptop exited before attaching")
		}
	}
	go func() {
		for sc.Scan() {
			fmt.Fprintf(os.Stderr, "  (%s)\n", sc.Text()) // tcptop prefixes its own lines
		}
	}()
	pid := cmd.Process.Pid
	attached := time.Now()
	stopScraping := func() {}
	if cfg.listen != "" {
		stopScraping = scrape(cfg.listen, cfg.scrape, &r)
	}
	c0 := cpuOf(pid)
	time.Sleep(time.Until(attached.Add(1500 * time.Millisecond)))
	r.firstTick = cpuOf(pid) - c0
	time.Sleep(time.Until(attached.Add(3500 * time.Millisecond)))
	c2 := cpuOf(pid)
	end := time.Now().Add(time.Duration(ticks) * time.Second)
	for sampleEvery > 0 && time.Until(end) > sampleEvery {
		time.Sleep(sampleEvery)
		r.rssSamples = append(r.rssSamples, statusKB(pid, "VmRSS")<<10)
	}
	time.Sleep(time.Until(end))
	r.perTick = (cpuOf(pid) - c2) / time.Duration(ticks)
	r.peakRSS = statusKB(pid, "VmHWM") << 10
	stopScraping()
	if cfg.listen != "" && r.scrapes == 0 {
		return r, fmt.Errorf("--listen %s: no scrape of /metrics answered", cfg.listen)
	}
	return r, nil
}

// scrape gets http://addr/metrics every interval, as Prometheus would,
// counting into r the scrapes answered 200, until the returned stop is
// called. Until the first is answered (tcptop answers 503 until its first
// tick ends) it tries every second.
func scrape(addr string, interval time.Duration, r *tcptopRun) (stop func()) {
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		wait := time.Second
		for {
			select {
			case <-done:
				return
			case <-time.After(wait):
			}
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				continue
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				atomic.AddInt64(&r.scrapes, 1)
				atomic.AddInt64(&r.scrapeBytes, n)
				wait = interval
			}
		}
	}()
	return func() { close(done); <-finished }
}

// cpuOf sums the run time of every thread of a process
// (/proc/PID/task/*/schedstat, nanoseconds).
func cpuOf(pid int) time.Duration {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		total += time.Duration(ns)
	}
	return total
}

// statusKB reads a "kB" field of /proc/PID/status.
func statusKB(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
