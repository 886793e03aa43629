package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// Options say what to run.
type Options struct {
	// Exe is the leconnect executable whose `run` is the core under test.
	Exe string
	// Messages per direction (default 2000) over Conversations (default 50).
	Messages, Conversations int
	// Rate, if positive, paces the load: messages are handed at this many a
	// second (spread over the conversations) instead of all at once, to
	// measure the latency the core adds below its capacity.
	Rate float64
	// Store is "bbolt" (default) or "postgres" with DSN.
	Store, DSN string
	// Dir holds the core's config, store and log (default: a temporary one).
	Dir string
	// Profile, if set, is a directory for the core's CPU profiles (one a
	// second during each flood: go tool pprof merges them) and its heap
	// profile after each flood.
	Profile string
	// Progress, if set, is told what the run is doing.
	Progress io.Writer
}

// Side is one target's figures for one direction.
type Side struct {
	MsgsPerSec float64 `json:"msgs_per_sec"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p999_ms"`
	// WebhookP99Ms is the p99 of the time the target took to answer
	// LiveEngage's webhooks during the flood.
	WebhookP99Ms float64 `json:"webhook_p99_ms"`
	// LoadCPUMsPerMsg is the CPU the bench process took per message: the
	// load generator and the emulators (and the relay, on the relay side).
	LoadCPUMsPerMsg float64 `json:"load_cpu_ms_per_msg"`
}

// Direction is the figures of one direction, the core beside the relay.
type Direction struct {
	Name  string `json:"direction"` // inbound (platform to LiveEngage) or outbound
	Core  Side   `json:"core"`
	Relay Side   `json:"relay"`
	// Ratio is the core's messages per second over the relay's.
	Ratio float64 `json:"ratio"`
	// AddedP50Ms... are the core's latency quantiles minus the relay's.
	AddedP50Ms  float64 `json:"added_p50_ms"`
	AddedP99Ms  float64 `json:"added_p99_ms"`
	AddedP999Ms float64 `json:"added_p999_ms"`
	// The core process's own costs per message (its /metrics): CPU,
	// allocations, and store commits (fsyncs) or PostgreSQL round trips.
	CoreCPUMsPerMsg       float64 `json:"core_cpu_ms_per_msg"`
	CoreAllocsPerMsg      float64 `json:"core_allocs_per_msg"`
	StoreCommitsPerMsg    float64 `json:"store_commits_per_msg"`
	StoreRoundTripsPerMsg float64 `json:"store_round_trips_per_msg"`
	// AdapterCPUMsPerMsg is the CPU the core's adapter process (the
	// Telegram adapter) took per message.
	AdapterCPUMsPerMsg float64 `json:"adapter_cpu_ms_per_msg"`
}

// Report is a whole run.
type Report struct {
	Messages      int `json:"messages"`
	Conversations int `json:"conversations"`
	// Rate is the paced load's messages per second; 0 for a flood.
	Rate       float64     `json:"rate,omitempty"`
	Store      string      `json:"store"`
	Directions []Direction `json:"directions"`
}

func (o Options) withDefaults() Options {
	if o.Messages <= 0 {
		o.Messages = 2000
	}
	if o.Conversations <= 0 {
		o.Conversations = 50
	}
	if o.Store == "" {
		o.Store = "bbolt"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Credentials the emulators and the targets share.
const (
	accountID    = "12345678"
	clientID     = "bench-client"
	clientSecret = "bench-secret"
	tgSecret     = "bench-secret-token"
)

// Run benchmarks the core and then the relay, each against emulators of
// its own, and reports them side by side.
func Run(ctx context.Context, o Options) (Report, error) {
	o = o.withDefaults()
	if o.Exe == "" {
		return Report{}, errors.New("bench: the leconnect executable is required")
	}
	if o.Store != "bbolt" && o.Store != "postgres" {
		return Report{}, fmt.Errorf("bench: store %q: expected bbolt or postgres", o.Store)
	}
	if o.Store == "postgres" && o.DSN == "" {
		return Report{}, errors.New("bench: --store postgres needs --dsn")
	}
	load := "all at once"
	if o.Rate > 0 {
		load = fmt.Sprintf("at %.0f a second", o.Rate)
	}
	fmt.Fprintf(o.Progress, "bench: the core (%s store), %d messages each way over %d conversations, %s\n", o.Store, o.Messages, o.Conversations, load)
	if o.Store == "postgres" {
		// A store of its own, as the embedded one gets a fresh file: the
		// emulators start their ids afresh, so a store an earlier run
		// filled would take this run's messages for duplicates.
		dsn, drop, err := freshSchema(ctx, o.DSN)
		if err != nil {
			return Report{}, fmt.Errorf("bench: %w", err)
		}
		defer drop()
		o.DSN = dsn
	}
	core, err := runTarget(ctx, o, startCore)
	if err != nil {
		return Report{}, fmt.Errorf("bench: the core: %w", err)
	}
	fmt.Fprintf(o.Progress, "bench: the bare relay, the same load\n")
	relay, err := runTarget(ctx, o, startRelay)
	if err != nil {
		return Report{}, fmt.Errorf("bench: the relay: %w", err)
	}
	rep := Report{Messages: o.Messages, Conversations: o.Conversations, Store: o.Store, Rate: o.Rate}
	for i, name := range []string{"inbound", "outbound"} {
		c, r := core[i], relay[i]
		d := Direction{Name: name, Core: c.Side, Relay: r.Side,
			AddedP50Ms: c.P50Ms - r.P50Ms, AddedP99Ms: c.P99Ms - r.P99Ms, AddedP999Ms: c.P999Ms - r.P999Ms,
			CoreCPUMsPerMsg: c.cost.cpuMs, CoreAllocsPerMsg: c.cost.allocs, StoreCommitsPerMsg: c.cost.commits, StoreRoundTripsPerMsg: c.cost.roundTrips,
			AdapterCPUMsPerMsg: c.cost.adapterCPUMs}
		if r.MsgsPerSec > 0 {
			d.Ratio = c.MsgsPerSec / r.MsgsPerSec
		}
		rep.Directions = append(rep.Directions, d)
	}
	return rep, nil
}

// emulators are one run's LiveEngage and Telegram, each behind a watcher
// that times the requests carrying benchmark messages on.
type emulators struct {
	le      *liveengage.Emulator
	tg      *tgemu.Emulator
	leURL   string
	tgURL   string
	active  atomic.Pointer[clock] // the clock of the flood under way
	closers []func()
}

func (e *emulators) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// webhookPath is where a target takes LiveEngage's webhooks.
const webhookPath = "/webhooks/liveperson"

// target is the core or the relay, serving on the listener it was given
// (the core closes it and listens on its address).
type target struct {
	// pid is the core's process; ready is how long it took to answer
	// /readyz 200 (both zero for the relay).
	pid      int
	ready    time.Duration
	counters func() (counters, error) // the core's; nil for the relay
	// profile, if set, writes the target's profiles while a flood runs
	// until done is closed, then its heap; it returns when written.
	profile func(dir, name string, done <-chan struct{}) error
	stop    func()
}

// snapshot reads the target's counters (zero for the relay).
func (t *target) snapshot() (counters, error) {
	if t.counters == nil {
		return counters{}, nil
	}
	return t.counters()
}

type starter func(ctx context.Context, o Options, em *emulators, l net.Listener) (*target, error)

// result is one direction's measurements on one target.
type result struct {
	Side
	cost perMsg
}

// runTarget starts fresh emulators and the target, opens the conversations
// and floods each way.
func runTarget(ctx context.Context, o Options, start starter) ([2]result, error) {
	var out [2]result
	l, err := net.Listen("tcp", "127.0.0.1:0") // the target's address, for LiveEngage's webhooks
	if err != nil {
		return out, err
	}
	em := &emulators{}
	defer em.close()
	proxy, err := serve(timeAnswers("http://"+l.Addr().String(), em.active.Load), &em.closers)
	if err != nil {
		l.Close()
		return out, err
	}
	if err := em.start(proxy + webhookPath); err != nil {
		l.Close()
		return out, err
	}
	t, err := start(ctx, o, em, l)
	if err != nil {
		return out, err
	}
	defer t.stop()
	chats := make([]int64, o.Conversations)
	for u := range chats {
		chats[u] = int64(100000 + u)
		if err := em.tg.AddUser(tgemu.User{ID: chats[u], FirstName: fmt.Sprintf("Bench%d", u)}); err != nil {
			return out, err
		}
	}
	// Open every conversation (one message each), outside the measurement.
	warm := newClock(o.Conversations)
	em.active.Store(warm)
	for u, chat := range chats {
		m := fmt.Sprintf("open %d %s", u, marker('w', u))
		warm.handed(markerRE.FindString(m))
		if _, err := em.tg.SendText(chat, m); err != nil {
			return out, err
		}
	}
	if err := wait(ctx, warm, time.Minute); err != nil {
		return out, fmt.Errorf("opening the conversations: %w", err)
	}
	convs, err := conversationsOf(em.le, o.Conversations)
	if err != nil {
		return out, err
	}
	out[0], err = flood(ctx, o, em, t, 'i', func(u, i int, text string) error {
		_, err := em.tg.SendText(chats[u], text)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("inbound: %w", err)
	}
	out[1], err = flood(ctx, o, em, t, 'o', func(u, i int, text string) error {
		_, err := em.le.AgentSend(convs[u], text)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("outbound: %w", err)
	}
	return out, nil
}

// conversationsOf maps user u to the conversation its "open u" opened.
func conversationsOf(le *liveengage.Emulator, n int) ([]string, error) {
	convs := make([]string, n)
	for _, c := range le.Conversations() {
		for _, m := range c.Messages {
			var u int
			if _, err := fmt.Sscanf(m.Text, "open %d ", &u); err == nil && u >= 0 && u < n {
				convs[u] = c.ID
			}
		}
	}
	for u, c := range convs {
		if c == "" {
			return nil, fmt.Errorf("no conversation for user %d", u)
		}
	}
	return convs, nil
}

// flood hands o.Messages messages over from one goroutine per conversation
// and waits until all arrived.
func flood(ctx context.Context, o Options, em *emulators, t *target, dir byte, send func(u, i int, text string) error) (result, error) {
	var res result
	c := newClock(o.Messages)
	em.active.Store(c)
	before, err := t.snapshot()
	if err != nil {
		return res, err
	}
	profiled := make(chan error, 1)
	if o.Profile != "" && t.profile != nil {
		name := map[byte]string{'i': "inbound", 'o': "outbound"}[dir]
		go func() { profiled <- t.profile(o.Profile, name, c.done) }()
	} else {
		profiled <- nil
	}
	cpu0, start := selfCPU(), time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, o.Conversations)
	for u := 0; u < o.Conversations; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := u; i < o.Messages; i += o.Conversations {
				if o.Rate > 0 { // message i is due i/Rate seconds in
					due := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
					select {
					case <-time.After(time.Until(due)):
					case <-ctx.Done():
						errs <- ctx.Err()
						return
					}
				}
				m := marker(dir, i)
				c.handed(m)
				if err := send(u, i, "bench message "+m); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	if err := wait(ctx, c, 5*time.Minute); err != nil {
		return res, err
	}
	elapsed, cpu := time.Since(start), selfCPU()-cpu0
	after, err := t.snapshot()
	if err != nil {
		return res, err
	}
	if err := <-profiled; err != nil {
		return res, fmt.Errorf("profile: %w", err)
	}
	n := float64(o.Messages)
	res.MsgsPerSec = n / elapsed.Seconds()
	res.P50Ms, res.P99Ms, res.P999Ms = c.quantiles()
	res.WebhookP99Ms = c.webhookP99()
	res.LoadCPUMsPerMsg = float64(cpu.Microseconds()) / 1000 / n
	res.cost = after.minus(before, n)
	return res, nil
}

func wait(ctx context.Context, c *clock, limit time.Duration) error {
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(limit):
		return fmt.Errorf("only %d of %d messages arrived within %v", c.count(), c.want, limit)
	}
}

// start makes the emulators; LiveEngage posts its webhooks to leWebhookURL.
func (em *emulators) start(leWebhookURL string) error {
	le, err := liveengage.New(liveengage.Options{AccountID: accountID, ClientID: clientID, ClientSecret: clientSecret,
		WebhookURL: leWebhookURL, RetentionTime: time.Hour, TimeScale: 0.01})
	if err != nil {
		return err
	}
	em.le = le
	em.closers = append(em.closers, func() { le.Close() })
	tg, err := tgemu.New(tgemu.Options{ChatRate: -1, GlobalRate: -1, TimeScale: 0.01})
	if err != nil {
		return err
	}
	em.tg = tg
	em.closers = append(em.closers, tg.Close)
	clk := em.active.Load
	publish := func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/conversation/send") || strings.HasSuffix(r.URL.Path, "/conversation")
	}
	sendMessage := func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/sendMessage") }
	if em.leURL, err = serve(watch(le.Handler(), publish, clk), &em.closers); err != nil {
		return err
	}
	em.tgURL, err = serve(watch(tg.Handler(), sendMessage, clk), &em.closers)
	return err
}

// serve serves h on a loopback port.
func serve(h http.Handler, closers *[]func()) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	*closers = append(*closers, func() { _ = srv.Close() })
	return "http://" + l.Addr().String(), nil
}
