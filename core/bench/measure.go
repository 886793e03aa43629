package bench

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
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
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return float64(ds[max(i, 0)].Microseconds()) / 1000
	}
	return q(0.5), q(0.99), q(0.999)
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
