package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

func testSendJournal(t *testing.T, open Opener) {
	e := setup(t, open)
	if _, found, err := e.s.LookupSend(e.ctx, "tg", "k1"); err != nil || found {
		t.Fatalf("LookupSend of a key never recorded = found %v, %v", found, err)
	}
	if err := e.s.RecordSend(e.ctx, "tg", "k1", []string{"7", "8"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RecordSend(e.ctx, "tg", "k\x00nul", nil); err != nil {
		t.Fatalf("RecordSend of an opaque key with no ids: %v", err)
	}
	if ids, found, err := e.s.LookupSend(e.ctx, "tg", "k1"); err != nil || !found || !slices.Equal(ids, []string{"7", "8"}) {
		t.Fatalf("LookupSend = %q, %v, %v; want [7 8]", ids, found, err)
	}
	if ids, found, err := e.s.LookupSend(e.ctx, "tg", "k\x00nul"); err != nil || !found || len(ids) != 0 {
		t.Fatalf("LookupSend of a send with no ids = %q, %v, %v", ids, found, err)
	}
	if _, found, err := e.s.LookupSend(e.ctx, "slack", "k1"); err != nil || found {
		t.Fatalf("the same key on another channel: found %v, %v", found, err)
	}
	if err := e.s.RecordSend(e.ctx, "", "k", nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("RecordSend without a channel: %v, want ErrInvalid", err)
	}
	e.clock.Advance(linkTTL)
	if _, found, err := e.s.LookupSend(e.ctx, "tg", "k1"); err != nil || found {
		t.Fatalf("LookupSend after the TTL: found %v, %v", found, err)
	}
	if n, err := e.s.PurgeExpired(e.ctx, 10); err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v; want the 2 journal entries", n, err)
	}
}

// A send begun and never recorded is in doubt; recorded, it is sent;
// abandoned (the platform refused it), it is as if never begun.
func testSendIntents(t *testing.T, open Opener) {
	e := setup(t, open)
	state := func(key string) store.SendState {
		t.Helper()
		st, err := e.s.SendState(e.ctx, "tg", key)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := state("k"); st.Sent || st.InDoubt {
		t.Fatalf("a key never begun: %+v", st)
	}
	begun := e.clock.Now()
	if err := e.s.BeginSend(e.ctx, "tg", "k"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if err := e.s.BeginSend(e.ctx, "tg", "k"); err != nil { // a retry begins it again
		t.Fatal(err)
	}
	if st := state("k"); !st.InDoubt || st.Sent || !st.Begun.Equal(begun) {
		t.Fatalf("begun twice, never recorded: %+v; want in doubt since the first begin %v", st, begun)
	}
	if _, found, err := e.s.LookupSend(e.ctx, "tg", "k"); err != nil || found {
		t.Fatalf("LookupSend of a send only begun: found %v, %v", found, err)
	}
	if err := e.s.RecordSend(e.ctx, "tg", "k", []string{"9"}); err != nil {
		t.Fatal(err)
	}
	if st := state("k"); !st.Sent || st.InDoubt || !slices.Equal(st.MessageIDs, []string{"9"}) {
		t.Fatalf("recorded after begun: %+v", st)
	}
	if err := e.s.BeginSend(e.ctx, "tg", "k"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AbandonSend(e.ctx, "tg", "k"); err != nil {
		t.Fatal(err)
	}
	if st := state("k"); !st.Sent || !slices.Equal(st.MessageIDs, []string{"9"}) {
		t.Fatalf("a recorded send begun or abandoned again must stay recorded: %+v", st)
	}

	if err := e.s.BeginSend(e.ctx, "tg", "refused"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AbandonSend(e.ctx, "tg", "refused"); err != nil {
		t.Fatal(err)
	}
	if st := state("refused"); st.Sent || st.InDoubt {
		t.Fatalf("abandoned: %+v; want as never begun", st)
	}
	if st, _ := e.s.SendState(e.ctx, "slack", "k"); st.Sent || st.InDoubt {
		t.Fatalf("another channel: %+v", st)
	}
	if err := e.s.BeginSend(e.ctx, "tg", ""); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("BeginSend without a key: %v, want ErrInvalid", err)
	}

	if err := e.s.BeginSend(e.ctx, "tg", "stale"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(linkTTL)
	if st := state("stale"); st.InDoubt {
		t.Fatalf("an intent past the TTL is still in doubt: %+v", st)
	}
}

func testSingletons(t *testing.T, open Opener) {
	e := setup(t, open)
	const ttl = 10 * time.Second
	a, held, err := e.s.AcquireSingleton(e.ctx, "poll", "a", ttl)
	if err != nil || !held || a.Owner != "a" || a.Token == 0 || !a.Expires.Equal(e.clock.Now().Add(ttl)) {
		t.Fatalf("first AcquireSingleton = %+v, %v, %v", a, held, err)
	}
	if cur, held, err := e.s.AcquireSingleton(e.ctx, "poll", "b", ttl); err != nil || held || cur.Owner != "a" || cur.Token != a.Token {
		t.Fatalf("AcquireSingleton while a holds it = %+v, %v, %v; want a's lease, not held", cur, held, err)
	}
	if other, held, err := e.s.AcquireSingleton(e.ctx, "purge", "b", ttl); err != nil || !held || other.Token == a.Token {
		t.Fatalf("another name = %+v, %v, %v", other, held, err)
	}
	e.clock.Advance(ttl / 2)
	renewed, held, err := e.s.AcquireSingleton(e.ctx, "poll", "a", ttl)
	if err != nil || !held || renewed.Token != a.Token || !renewed.Expires.Equal(e.clock.Now().Add(ttl)) {
		t.Fatalf("renewal = %+v, %v, %v; want the same token, expiry moved", renewed, held, err)
	}
	e.clock.Advance(ttl)
	b, held, err := e.s.AcquireSingleton(e.ctx, "poll", "b", ttl)
	if err != nil || !held || b.Owner != "b" || b.Token <= a.Token {
		t.Fatalf("AcquireSingleton after a's lapsed = %+v, %v, %v; want b, a larger token", b, held, err)
	}
	if _, held, _ := e.s.AcquireSingleton(e.ctx, "poll", "a", ttl); held {
		t.Fatal("a renewed a lease b took over")
	}
	if err := e.s.ReleaseSingleton(e.ctx, renewed); err != nil {
		t.Fatalf("releasing a lost lease: %v", err)
	}
	if cur, held, _ := e.s.AcquireSingleton(e.ctx, "poll", "c", ttl); held || cur.Owner != "b" {
		t.Fatalf("a's late release freed b's lease: %+v held %v", cur, held)
	}
	if err := e.s.ReleaseSingleton(e.ctx, b); err != nil {
		t.Fatal(err)
	}
	if c, held, err := e.s.AcquireSingleton(e.ctx, "poll", "c", ttl); err != nil || !held || c.Token <= b.Token {
		t.Fatalf("after b released = %+v, %v, %v", c, held, err)
	}
	if _, _, err := e.s.AcquireSingleton(e.ctx, "", "a", ttl); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no name: %v, want ErrInvalid", err)
	}
}
