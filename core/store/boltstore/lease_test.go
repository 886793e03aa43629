package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/storetest"
)

// An ack checked under a live lease but still waiting for its commit keeps
// the key from every claimer, even once the lease lapses meanwhile: a
// claim would otherwise read the key's items without that ack and hand
// the acked item out again.
func TestAWriteInFlightKeepsItsKeyFromClaims(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock()
	s := openT(t, filepath.Join(t.TempDir(), "f.db"), Options{Options: store.Options{Now: clock.Now}})
	q := s.Outbound()
	if _, err := q.Enqueue(ctx, store.Message{Key: "k", Payload: []byte("1")}, store.Message{Key: "k", Payload: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	first, err := q.Leases().Claim(ctx, "w1", 1, 10, time.Minute)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim = %+v, %v", first, err)
	}
	release := holdNextBatch(t, s)
	acked := make(chan error, 1)
	go func() {
		_, err := q.Leases().Ack(ctx, first[0].Lease, first[0].Items[0].Seq, store.Effects{})
		acked <- err
	}()
	waitQueued(t, s, 1)
	clock.Advance(2 * time.Minute)
	if got, err := q.Leases().Claim(ctx, "w2", 1, 10, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("claim while w1's ack is in flight = %+v, %v; want nothing", got, err)
	}
	release(1)
	if err := <-acked; err != nil {
		t.Fatalf("the ack checked before its lease lapsed: %v", err)
	}
	got, err := q.Leases().Claim(ctx, "w2", 1, 10, time.Minute)
	if err != nil || len(got) != 1 || len(got[0].Items) != 1 || string(got[0].Items[0].Payload) != "2" || got[0].Lease.Token <= first[0].Lease.Token {
		t.Fatalf("claim after the ack = %+v, %v; want key k with item 2 only", got, err)
	}
	if _, err := q.Leases().Ack(ctx, first[0].Lease, first[0].Items[1].Seq, store.Effects{}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("w1's next ack, after w2 took the key: %v", err)
	}
}

// holdKey claims key for a test and returns its lease; whatever other keys
// the claim took are released again.
func holdKey(t *testing.T, q store.Queue, key string) store.Lease {
	t.Helper()
	ctx := context.Background()
	claims, err := q.Leases().Claim(ctx, "test", 10000, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var lease store.Lease
	for _, c := range claims {
		if c.Lease.Key == key {
			lease = c.Lease
		} else if err := q.Leases().Release(ctx, c.Lease); err != nil {
			t.Fatal(err)
		}
	}
	if lease.Key == "" {
		t.Fatalf("key %q not claimable", key)
	}
	return lease
}
