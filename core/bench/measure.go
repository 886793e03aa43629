package bench

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// marker tags every benchmark message: "lcb<direction><i>." is unique per run.
var markerRE = regexp.MustCompile(`lcb([iow])([0-9]+)\.`)

func marker(dir byte, i int) string { return "lcb" + string(dir) + strconv.Itoa(i) + "." }

// clock records when each message was handed over and when it arrived.
type clock struct {
	mu      sync.Mutex
	sent    map[string]time.Time
	arrived map[string]time.Duration
	done    chan struct{}
	want    int
	hooks   []time.Duration // how long the target took to answer LiveEngage's webhooks
}

func newClock(want int) *clock {
	return &clock{sent: map[string]time.Time{}, arrived: map[string]time.Duration{}, done: make(chan struct{}), want: want}
}

func (c *clock) handed(m string) {
	c.mu.Lock()
	c.sent[m] = time.Now()
	c.mu.Unlock()
}

// seen records the first arrival of every marker in body.
func (c *clock) seen(body []byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range markerRE.FindAll(body, -1) {
		k := string(m)
		t, ok := c.sent[k]
		if _, dup := c.arrived[k]; !ok || dup {
			continue
		}
		c.arrived[k] = now.Sub(t)
		if len(c.arrived) == c.want {
			close(c.done)
		}
	}
}

func (c *clock) webhookAnswered(d time.Duration) {
	c.mu.Lock()
	c.hooks = append(c.hooks, d)
	c.mu.Unlock()
}

// webhookP99 is the p99 of the webhook answer times in milliseconds.
func (c *clock) webhookP99() float64 {
	c.mu.Lock()
	ds := slices.Clone(c.hooks)
	c.mu.Unlock()
	return quantile(ds, 0.99)
}

func quantile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	return float64(ds[max(i, 0)].Microseconds()) / 1000
}

func (c *clock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.arrived)
}

// quantiles returns p50, p99 and p999 in milliseconds.
func (c *clock) quantiles() (p50, p99, p999 float64) {
	c.mu.Lock()
	ds := make([]time.Duration, 0, len(c.arrived))
	for _, d := range c.arrived {
		ds = append(ds, d)
	}
	c.mu.Unlock()
	return quantile(ds, 0.5), quantile(ds, 0.99), quantile(ds, 0.999)
}

// timeAnswers is a reverse proxy in front of the target's LiveEngage
// webhook that times each answer (both targets pay its hop alike).
func timeAnswers(target string, c func() *clock) http.Handler {
	u, _ := url.Parse(target)
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		p.ServeHTTP(w, r)
		if cl := c(); cl != nil {
			cl.webhookAnswered(time.Since(start))
		}
	})
}

// watch wraps an emulator's handler: a successful request to a path that
// match accepts is shown to c (after the emulator answered it).
func watch(h http.Handler, match func(*http.Request) bool, c func() *clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !match(r) {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if cl := c(); cl != nil && sw.status/100 == 2 {
			cl.seen(body)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// selfCPU is this process's user+system CPU time (load generator,
// emulators, and the relay when it runs).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// childrenCPUSeconds is the CPU (user and system) the running children of
// pid took (the core's adapter processes), from /proc; 0 where there is no
// /proc.
func childrenCPUSeconds(pid int) float64 {
	var ticks uint64
	for _, f := range children(pid) {
		u, _ := strconv.ParseUint(f[11], 10, 64)
		s, _ := strconv.ParseUint(f[12], 10, 64)
		ticks += u + s
	}
	return float64(ticks) / clockTicks
}

// children is pid's running children with their /proc stat fields (see
// procStat), from one pass over /proc.
func children(pid int) map[int][]string {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	out := map[int][]string{}
	for _, p := range procs {
		child, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		if f := procStat(child); len(f) >= 13 && f[1] == strconv.Itoa(pid) {
			out[child] = f
		}
	}
	return out
}

// procStat is /proc/PID/stat's fields after the command name (which may
// hold spaces): state, ppid, ... utime is [11], stime [12] (proc(5)).
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil // exited meanwhile
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// memory is a process's resident memory, from /proc/PID/status.
type memory struct{ rss, anon, file uint64 }

func procMemory(pid int) (memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memory{}, fmt.Errorf("read the memory of process %d: %w", pid, err)
	}
	var m memory
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			m.rss = kb * 1024
		case "RssAnon":
			m.anon = kb * 1024
		case "RssFile":
			m.file = kb * 1024
		}
	}
	return m, nil
}
