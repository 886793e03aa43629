package e2e

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leconnect/leconnect/core/store/pgstore/pgtest"
	"github.com/leconnect/leconnect/emulator/liveengage"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// BenchmarkThroughput measures messages per second through the real core
// (durable store on, fsync on every commit) in each direction, across 50
// conversations, with the echo adapter as a subprocess and the LiveEngage
// emulator; p50/p99 are the core's own histogram of the time from an event's
// commit to its completion (published to LiveEngage, or sent by the adapter).
//
//	go test -run '^$' -bench Throughput -benchtime 4000x ./e2e/
func BenchmarkThroughput(b *testing.B) {
	// Flooded: every message at once, for throughput. Paced: 200 messages a
	// second, well within capacity, so the latencies are the core's own and
	// not time spent queued behind the flood.
	for _, pace := range []struct {
		name string
		rate int // messages per second in all; 0 floods
	}{{"flood", 0}, {"paced", 200}} {
		b.Run("inbound-"+pace.name, func(b *testing.B) { benchInbound(b, pace.rate, envOptions{}) })
		b.Run("outbound-"+pace.name, func(b *testing.B) { benchOutbound(b, pace.rate, envOptions{}) })
	}
	// The same on the PostgreSQL store, when a server is at hand (pgtest),
	// with one instance and with two behind a balancer.
	for _, pace := range []struct {
		name string
		rate int
	}{{"flood", 0}, {"paced", 200}} {
		for _, n := range []int{1, 2} {
			prefix := fmt.Sprintf("postgres-x%d-", n)
			b.Run(prefix+"inbound-"+pace.name, func(b *testing.B) {
				benchInbound(b, pace.rate, envOptions{PostgresDSN: pgtest.DSN(b), Instances: n})
			})
			b.Run(prefix+"outbound-"+pace.name, func(b *testing.B) {
				benchOutbound(b, pace.rate, envOptions{PostgresDSN: pgtest.DSN(b), Instances: n})
			})
		}
	}
}

const benchUsers = 50

// spread runs send(i) for i in [0, n) from benchUsers goroutines, user u
// taking i = u, u+benchUsers, ...; at rate messages/s in all when rate > 0.
func spread(n, rate int, send func(u, i int)) {
	var wg sync.WaitGroup
	for u := 0; u < benchUsers; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tick *time.Ticker
			if rate > 0 {
				tick = time.NewTicker(time.Second * benchUsers / time.Duration(rate))
				defer tick.Stop()
			}
			for i := u; i < n; i += benchUsers {
				if tick != nil {
					<-tick.C
				}
				send(u, i)
			}
		}()
	}
	wg.Wait()
}

func benchInbound(b *testing.B, rate int, o envOptions) {
	o.Channel, o.LogLevel = "echo", "info"
	e := newEnv(b, o)
	users := make([]*echoUser, benchUsers)
	for u := range users {
		users[u] = &echoUser{e: e, user: fmt.Sprintf("bench%d", u), chat: fmt.Sprintf("bench-chat-%d", u)}
	}
	before := storeUse(b, e, o)
	b.ResetTimer()
	start := time.Now()
	spread(b.N, rate, func(u, i int) {
		users[u].send(echo.Inbound{ID: fmt.Sprintf("b%d", i), Text: fmt.Sprintf("message %d", i)})
	})
	e.waitFor("every message in LiveEngage", func() bool { return consumerMessages(e.le) >= b.N })
	report(b, e, "inbound", time.Since(start))
	storeCost(b, e, o, before)
}

func benchOutbound(b *testing.B, rate int, o envOptions) {
	o.Channel, o.LogLevel = "echo", "info"
	e := newEnv(b, o)
	convs := make([]string, benchUsers)
	for u := range convs {
		user := &echoUser{e: e, user: fmt.Sprintf("bench%d", u), chat: fmt.Sprintf("bench-chat-%d", u)}
		user.send(echo.Inbound{Text: fmt.Sprintf("open %d", u)})
	}
	e.waitFor("the conversations", func() bool { return consumerMessages(e.le) >= benchUsers })
	for u := range convs {
		convs[u] = conversationWith(e.le, fmt.Sprintf("open %d", u))
	}
	before := metric(e, `leconnect_messages_out_total{channel="echo"}`)
	use := storeUse(b, e, o)
	b.ResetTimer()
	start := time.Now()
	spread(b.N, rate, func(u, i int) {
		if _, err := e.le.AgentSend(convs[u], fmt.Sprintf("answer %d", i)); err != nil {
			b.Error(err)
		}
	})
	e.waitFor("every message delivered", func() bool {
		return metric(e, `leconnect_messages_out_total{channel="echo"}`)-before >= float64(b.N)
	})
	report(b, e, "outbound", time.Since(start))
	storeCost(b, e, o, use)
}

// storeUsage is what the PostgreSQL store has cost so far: the core's
// round trips to it and the server's WAL position (bytes written durably).
type storeUsage struct{ roundTrips, walBytes float64 }

func storeUse(b *testing.B, e *env, o envOptions) storeUsage {
	if o.PostgresDSN == "" {
		return storeUsage{}
	}
	var wal float64
	c, err := pgx.Connect(b.Context(), o.PostgresDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(b.Context())
	if err := c.QueryRow(b.Context(), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8`).Scan(&wal); err != nil {
		b.Fatal(err)
	}
	return storeUsage{roundTrips: metric(e, "leconnect_store_round_trips_total"), walBytes: wal}
}

// storeCost reports the PostgreSQL store's round trips and WAL bytes per
// message since before (the whole server's WAL: run nothing else on it).
func storeCost(b *testing.B, e *env, o envOptions, before storeUsage) {
	if o.PostgresDSN == "" {
		return
	}
	after := storeUse(b, e, o)
	b.ReportMetric((after.roundTrips-before.roundTrips)/float64(b.N), "roundtrips/msg")
	b.ReportMetric((after.walBytes-before.walBytes)/float64(b.N), "walB/msg")
}

func consumerMessages(le *liveengage.Emulator) int {
	n := 0
	for _, c := range le.Conversations() {
		n += len(texts(c, "CONSUMER"))
	}
	return n
}

func report(b *testing.B, e *env, queue string, elapsed time.Duration) {
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	p50, p99 := latencyQuantiles(e, queue)
	b.ReportMetric(p50*1000, "p50-ms")
	b.ReportMetric(p99*1000, "p99-ms")
}

// latencyQuantiles reads leconnect_item_latency_seconds for a queue from
// /metrics and interpolates p50 and p99 within its buckets.
func latencyQuantiles(e *env, queue string) (float64, float64) {
	re := regexp.MustCompile(`(?m)^leconnect_item_latency_seconds_bucket\{[^}]*queue="` + queue + `"[^}]*le="([^"]+)"\} ([0-9.e+]+)$`)
	counts := map[float64]float64{}
	for _, body := range metricsBodies(e) { // every instance of a cluster
		for _, m := range re.FindAllStringSubmatch(string(body), -1) {
			le, _ := strconv.ParseFloat(strings.Replace(m[1], "+Inf", "Inf", 1), 64)
			n, _ := strconv.ParseFloat(m[2], 64)
			counts[le] += n
		}
	}
	var bounds []float64
	for le := range counts {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return 0, 0
	}
	total := counts[bounds[len(bounds)-1]]
	q := func(p float64) float64 {
		rank, prevLe, prevN := p*total, 0.0, 0.0
		for _, le := range bounds {
			if counts[le] >= rank {
				if le > 1e300 {
					return prevLe
				}
				return prevLe + (le-prevLe)*(rank-prevN)/max(counts[le]-prevN, 1)
			}
			prevLe, prevN = le, counts[le]
		}
		return prevLe
	}
	return q(0.5), q(0.99)
}
