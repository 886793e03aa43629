package daemon

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/core/store"
)

// Two holders of one channel's singleton: the second gets it when the first
// gives it up, and learns it lost it when someone else took it over.
func TestChannelSingletonsHandOverAndLose(t *testing.T) {
	st := store.NewMemory(store.Options{})
	const ttl = 300 * time.Millisecond
	holds := new(atomic.Uint64)
	newHolder := func(instance string) channelSingletons {
		return channelSingletons{st: st, instance: instance, channel: "tg", ttl: ttl, holds: holds, log: hclog.NewNullLogger()}
	}
	hold := func(h channelSingletons, ctx context.Context) (held <-chan time.Time, done <-chan error) {
		hc, dc := make(chan time.Time, 100), make(chan error, 1)
		go func() { dc <- h.HoldSingleton(ctx, "getUpdates", func(exp time.Time) { hc <- exp }) }()
		return hc, dc
	}
	ctx := t.Context()
	ctxA, stopA := context.WithCancel(ctx)
	heldA, doneA := hold(newHolder("a"), ctxA)
	<-heldA
	heldB, doneB := hold(newHolder("b"), ctx)
	<-heldA // A renewed at least once while B was waiting
	select {
	case <-heldB:
		t.Fatal("b holds the lease while a does")
	default:
	}
	stopA()
	if err := <-doneA; !errors.Is(err, context.Canceled) {
		t.Fatalf("a's hold ended with %v, want context.Canceled", err)
	}
	<-heldB // a released it: b gets it without waiting for it to lapse

	// Someone else takes the lease from under b (as after b stalled past it).
	cur, held, err := st.AcquireSingleton(ctx, "channel/tg/getUpdates", "thief", ttl)
	if err != nil || held || cur.Owner == "" {
		t.Fatalf("the lease should be b's: %+v, %v, %v", cur, held, err)
	}
	if err := st.ReleaseSingleton(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if _, held, err := st.AcquireSingleton(ctx, "channel/tg/getUpdates", "thief", time.Hour); err != nil || !held {
		t.Fatalf("thief: %v, %v", held, err)
	}
	if err := <-doneB; err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("b's hold ended with %v, want the lease lost", err)
	}
}
