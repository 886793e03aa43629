package conversation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/storetest"
)

// A retry that asks for a tiny wait (a refused publish re-opening the
// conversation asks for 1 ms) still backs off once it keeps failing; a
// platform's longer retry-after is honoured as it is.
func TestRetryWaitHasAFloor(t *testing.T) {
	b := backoff{Initial: time.Second, Max: time.Minute}
	tests := []struct {
		name  string
		asked time.Duration
		want  []time.Duration // attempts 1, 2, 3, ...
	}{
		{"no wait asked", 0, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"a tiny wait, again and again", time.Millisecond,
			[]time.Duration{time.Millisecond, time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"a platform's retry-after", 30 * time.Second,
			[]time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 32 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				if got := b.retryWait(i+1, tt.asked); got != want {
					t.Errorf("attempt %d: wait %s, want %s", i+1, got, want)
				}
			}
		})
	}
}

// Two dispatchers (two instances) drain one queue: no key is ever handled
// by both at once, and every key's items are handled once each, in order,
// including items enqueued while they run.
func TestDispatchersShareAQueueKeyByKey(t *testing.T) {
	s := store.NewMemory(store.Options{})
	q := s.Inbound()
	const keys, perKey = 10, 40
	enqueueRound := func(from, to int) {
		for i := from; i < to; i++ {
			for k := range keys {
				if _, err := q.Enqueue(context.Background(), store.Message{Key: fmt.Sprint("k", k), Payload: []byte(fmt.Sprint(i))}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	enqueueRound(0, perKey/2)

	var (
		mu       sync.Mutex
		inFlight = map[string]string{}
		handled  = map[string][]string{}
		total    int
		allDone  = make(chan struct{})
	)
	handle := func(owner string) handler {
		return func(ctx context.Context, lease store.Lease, it store.Item, _ int) result {
			mu.Lock()
			if other, busy := inFlight[it.Key]; busy {
				t.Errorf("%s and %s handle key %s at once", other, owner, it.Key)
			}
			if lease.Owner != owner || lease.Key != it.Key {
				t.Errorf("%s handles %s under lease %+v", owner, it.Key, lease)
			}
			inFlight[it.Key] = owner
			mu.Unlock()
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			mu.Lock()
			delete(inFlight, it.Key)
			handled[it.Key] = append(handled[it.Key], string(it.Payload))
			if total++; total == keys*perKey {
				close(allDone)
			}
			mu.Unlock()
			return ok()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, owner := range []string{"instance-a", "instance-b"} {
		d := &dispatcher{queue: q, handle: handle(owner), workers: 3, owner: owner,
			backoff: backoff{Initial: time.Millisecond, Max: time.Millisecond}, log: hclog.NewNullLogger()}
		wg.Add(1)
		go func() { defer wg.Done(); _ = d.run(ctx, context.Background()) }()
	}
	enqueueRound(perKey/2, perKey)
	select {
	case <-allDone:
	case <-time.After(30 * time.Second):
		t.Error("not every item was handled")
	}
	cancel()
	wg.Wait()
	storetest.OnceInOrder(t, handled, keys, perKey)
	if n, _ := q.Depth(context.Background()); n != 0 {
		t.Fatalf("depth %d after everything was handled", n)
	}
}

// A key whose holder died (its lease is never extended) is taken over once
// the lease lapses; the dead holder's late ack is refused, so the item is
// done once, by the new holder.
func TestDispatcherTakesOverALapsedLease(t *testing.T) {
	s := store.NewMemory(store.Options{})
	q := s.Outbound()
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, store.Message{Key: "conv", Payload: []byte("x")}, store.Message{Key: "conv", Payload: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	dead, err := q.Leases().Claim(ctx, "dead-instance", 1, 1, 300*time.Millisecond)
	if err != nil || len(dead) != 1 {
		t.Fatalf("claim = %+v, %v", dead, err)
	}
	handledBy := make(chan store.Lease, 10)
	var takeovers atomic.Int32
	d := &dispatcher{queue: q, workers: 2, owner: "live-instance", leaseTTL: 200 * time.Millisecond,
		onClaim: func(claims []store.Claim, _ time.Duration, _ error) {
			for _, c := range claims {
				if c.TakenOver {
					takeovers.Add(1)
				}
			}
		},
		backoff: backoff{Initial: time.Millisecond, Max: time.Millisecond}, log: hclog.NewNullLogger(),
		handle: func(ctx context.Context, lease store.Lease, it store.Item, _ int) result {
			// Only the item the dead holder may have been sending is in
			// doubt, and each of its sends once.
			first, again := inDoubt(ctx, "send"), inDoubt(ctx, "send")
			if want := string(it.Payload) == "x"; first != want || again {
				t.Errorf("item %s: in doubt %v, then %v; want %v, then false", it.Payload, first, again, want)
			}
			if string(it.Payload) == "x" {
				handledBy <- lease
			}
			return ok()
		}}
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = d.run(runCtx, ctx) }()
	var got store.Lease
	select {
	case got = <-handledBy:
	case <-time.After(30 * time.Second):
		t.Fatal("the lapsed key was never taken over")
	}
	cancel()
	<-stopped
	if got.Owner != "live-instance" || got.Token <= dead[0].Lease.Token {
		t.Fatalf("handled under %+v; want the live instance's lease, with a larger token than %d", got, dead[0].Lease.Token)
	}
	if _, err := q.Leases().Ack(ctx, dead[0].Lease, dead[0].Items[0].Seq, store.Effects{}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the dead holder's late ack: %v; want ErrLeaseLost", err)
	}
	if len(handledBy) != 0 {
		t.Fatalf("handled again: %+v", <-handledBy)
	}
	if n := takeovers.Load(); n != 1 {
		t.Fatalf("%d claims reported a takeover; want 1", n)
	}
}

// failingClaims is a store whose inbound claims fail while fail is set
// (PostgreSQL down, say).
type failingClaims struct {
	store.Store
	fail atomic.Bool
}

func (f *failingClaims) Inbound() store.Queue { return failingQueue{f.Store.Inbound(), f} }

type failingQueue struct {
	store.Queue
	f *failingClaims
}

func (q failingQueue) Leases() store.Leases { return failingLeases{q.Queue.Leases(), q.f} }

type failingLeases struct {
	store.Leases
	f *failingClaims
}

func (l failingLeases) Claim(ctx context.Context, owner string, maxKeys, maxItems int, ttl time.Duration) ([]store.Claim, error) {
	if l.f.fail.Load() {
		return nil, errors.New("store down")
	}
	return l.Leases.Claim(ctx, owner, maxKeys, maxItems, ttl)
}

// The readiness check "claims" names a queue whose claims fail, and clears
// once they work again.
func TestClaimingReportsFailingClaims(t *testing.T) {
	st := &failingClaims{Store: store.NewMemory(store.Options{})}
	st.fail.Store(true)
	e := newTestEngine(t, st, &fakeLE{})
	if err := e.Claiming(context.Background()); err == nil {
		t.Fatal("claiming before Run: want an error")
	}
	run(t, e)
	waitUntil(t, "the failing claim reported", func() bool {
		err := e.Claiming(context.Background())
		return err != nil && strings.Contains(err.Error(), "inbound: store down")
	})
	st.fail.Store(false)
	waitUntil(t, "claims working again", func() bool { return e.Claiming(context.Background()) == nil })
}

// A send of a taken-over conversation waits for the dead instance's record
// of it, which appears when that instance starts again; without one it is
// sent after InDoubtWait and counted.
func TestAwaitSendRecord(t *testing.T) {
	s := store.NewMemory(store.Options{})
	reg := prometheus.NewRegistry()
	e := &Engine{opts: Options{Store: s, InDoubtWait: 300 * time.Millisecond}, metrics: newMetrics(reg, s), log: hclog.NewNullLogger()}
	ctx := context.Background()
	go func() {
		time.Sleep(2 * inDoubtPoll)
		_ = s.RecordSend(ctx, "tg", "reported", []string{"7"})
	}()
	e.opts.InDoubtWait = time.Minute // the record comes long before
	e.awaitSendRecord(ctx, "tg", "reported")
	if n := counterValue(t, e.metrics.sendsInDoubt.WithLabelValues("tg", "resent_after_takeover")); n != 0 {
		t.Fatalf("a send whose record appeared was counted in doubt (%v)", n)
	}
	e.opts.InDoubtWait = 300 * time.Millisecond
	e.awaitSendRecord(ctx, "tg", "never-reported")
	if n := counterValue(t, e.metrics.sendsInDoubt.WithLabelValues("tg", "resent_after_takeover")); n != 1 {
		t.Fatalf("sends in doubt = %v; want 1", n)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
