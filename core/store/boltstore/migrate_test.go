package boltstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// A store file written by main's code at 90b3bca (schema 1; made by a
// small program against that commit, testdata/store-90b3bca.db) opens,
// migrates, and keeps every pending item and dead letter: the outbound
// messaging items gain their LiveEngage sequence as a field, and the
// engine's reserved links become typed delivery state.
func TestOpensAndMigratesAStoreWrittenBySchema1(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "store-90b3bca.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "leconnect.db")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second open finds schema 2 and changes nothing
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("open (round %d): %v", round, err)
		}
		ctx := context.Background()
		out, err := s.Outbound().Pending(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, it := range out {
			if it.Sequence != nil {
				seqs = append(seqs, *it.Sequence)
			}
		}
		if len(out) != 4 || len(seqs) != 3 || seqs[0] != 5 || seqs[1] != 6 || seqs[2] != 7 || out[3].Sequence != nil {
			t.Fatalf("outbound after migration: %d items, sequences %v; want 4 items, the first three with 5, 6, 7", len(out), seqs)
		}
		in, err := s.Inbound().Pending(ctx, 0, 100)
		if err != nil || len(in) != 2 || in[0].Sequence != nil {
			t.Fatalf("inbound after migration: %+v, %v", in, err)
		}
		dl, err := s.DeadLetters().List(ctx, 0, 100)
		if err != nil || len(dl) != 1 || dl[0].Reason != "blocked by the user" || dl[0].Item.Sequence == nil || *dl[0].Item.Sequence != 9 {
			t.Fatalf("dead letters after migration: %+v, %v", dl, err)
		}
		if n, _ := s.Outbound().Depth(ctx); n != 4 {
			t.Fatalf("outbound depth %d", n)
		}
		// Schema 3's key index covers every migrated item: claims hand
		// them all out, each key's in order.
		claims, err := s.Outbound().Leases().Claim(ctx, "migration-test", 100, 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		claimed := 0
		for _, c := range claims {
			for i, it := range c.Items {
				if it.Key != c.Lease.Key || i > 0 && it.Seq <= c.Items[i-1].Seq {
					t.Fatalf("claim %+v: items out of key or order", c)
				}
			}
			claimed += len(c.Items)
			if err := s.Outbound().Leases().Release(ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
		}
		if claimed != 4 {
			t.Fatalf("claims handed out %d migrated items, want 4", claimed)
		}
		// The engine's reserved links became typed delivery state.
		if seq, err := s.AwaitEcho(ctx, "conv-1", "lc1-abc", time.Now()); err != nil || seq != 3 {
			t.Fatalf("echo after migration = %d, %v", seq, err)
		}
		if last, found, err := s.LastHandled(ctx, "conv-1"); err != nil || !found || last != 4 {
			t.Fatalf("last handled after migration = %d, %v, %v", last, found, err)
		}
		if conv, err := s.AwaitUnowned(ctx, "lp-123", time.Now()); err != nil || conv != "conv-3" {
			t.Fatalf("unowned after migration = %q, %v", conv, err)
		}
		if _, err := s.LinkByChannelMessage(ctx, "\x00echo", "conv-1", "lc1-abc"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the reserved link is still there: %v", err)
		}
		if l, err := s.LinkByChannelMessage(ctx, "tg", "u1", "77"); err != nil || l.Sequence != 2 {
			t.Fatalf("an ordinary link after migration = %+v, %v", l, err)
		}
		// Replayed, the dead letter keeps its sequence.
		if round == 1 {
			it, err := s.DeadLetters().Replay(ctx, dl[0].ID)
			if err != nil || it.Sequence == nil || *it.Sequence != 9 {
				t.Fatalf("replayed %+v, %v", it, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// The store file is locked to one process: leases an earlier process held
// (it crashed or stopped) are gone at Open, so its keys are claimable at
// once, and tokens go on growing.
func TestLeasesOfAnEarlierProcessAreClearedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leconnect.db")
	ctx := context.Background()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Inbound().Enqueue(ctx, store.Message{Key: "k", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Inbound().Leases().Claim(ctx, "dead-process", 1, 1, time.Hour)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim = %+v, %v", first, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	again, err := s.Inbound().Leases().Claim(ctx, "new-process", 1, 1, time.Hour)
	if err != nil || len(again) != 1 || again[0].Lease.Token <= first[0].Lease.Token {
		t.Fatalf("claim after reopening = %+v, %v; want the key, with a larger token than %d", again, err, first[0].Lease.Token)
	}
}
