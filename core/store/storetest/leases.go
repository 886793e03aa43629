package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

const leaseTTL = 30 * time.Second

func enqueue(t *testing.T, e env, q store.Queue, keyed ...string) {
	t.Helper()
	for i, k := range keyed {
		if _, err := q.Enqueue(e.ctx, store.Message{Key: k, Payload: []byte(fmt.Sprintf("%s-%d", k, i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// testLeaseClaim: a claim hands out keys with pending items, oldest first,
// each with its first items in order; a key under a live lease is handed
// to nobody else; tokens grow.
func testLeaseClaim(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	enqueue(t, e, q, "a", "b", "a", "c", "a")
	got, err := q.Leases().Claim(e.ctx, "w1", 2, 2, leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Lease.Key != "a" || got[1].Lease.Key != "b" {
		t.Fatalf("claimed %+v; want keys a and b (oldest first)", got)
	}
	if a := got[0]; len(a.Items) != 2 || string(a.Items[0].Payload) != "a-0" || string(a.Items[1].Payload) != "a-2" {
		t.Fatalf("key a's items %+v; want its first two in order", a.Items)
	}
	if l := got[0].Lease; l.Owner != "w1" || l.Queue != qn || !l.Expires.Equal(e.clock.Now().Add(leaseTTL)) || got[1].Lease.Token <= l.Token {
		t.Fatalf("leases %+v %+v", l, got[1].Lease)
	}
	again, err := q.Leases().Claim(e.ctx, "w2", 10, 10, leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Lease.Key != "c" || again[0].Lease.Token <= got[1].Lease.Token {
		t.Fatalf("second claim %+v; want only key c, with a larger token", again)
	}
	if items, err := q.Leases().Items(e.ctx, got[0].Lease, got[0].Items[1].Seq, 10); err != nil || len(items) != 1 || string(items[0].Payload) != "a-4" {
		t.Fatalf("Items after the claimed ones = %+v, %v", items, err)
	}
	if _, err := q.Leases().Claim(e.ctx, "", 1, 1, leaseTTL); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("claim without an owner: %v", err)
	}
}

// testLeaseFencing: once a lease expired, another owner takes the key and
// every write under the old lease is refused and changes nothing; the new
// holder's writes work, in order.
func testLeaseFencing(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	enqueue(t, e, q, "k", "k", "k")
	first, err := q.Leases().Claim(e.ctx, "w1", 1, 10, leaseTTL)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim = %+v, %v", first, err)
	}
	stale := first[0].Lease
	items := first[0].Items
	if drained, err := q.Leases().Ack(e.ctx, stale, items[0].Seq, store.Effects{}); err != nil || drained {
		t.Fatalf("ack of the first of three = drained %v, %v", drained, err)
	}
	e.clock.Advance(leaseTTL)
	if _, err := q.Leases().Extend(e.ctx, stale, leaseTTL); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("extend of an expired lease: %v", err)
	}
	if first[0].TakenOver {
		t.Fatalf("first claim of a key reports a takeover: %+v", first[0])
	}
	second, err := q.Leases().Claim(e.ctx, "w2", 1, 10, leaseTTL)
	if err != nil || len(second) != 1 || second[0].Lease.Token <= stale.Token || !second[0].TakenOver {
		t.Fatalf("takeover claim = %+v, %v; want the key, with a larger token, marked TakenOver", second, err)
	}
	if n := len(second[0].Items); n != 2 || second[0].Items[0].Seq != items[1].Seq {
		t.Fatalf("takeover items %+v; want the two left, in order", second[0].Items)
	}
	for name, write := range map[string]func() error{
		"ack":            func() error { _, err := q.Leases().Ack(e.ctx, stale, items[1].Seq, store.Effects{}); return err },
		"mark attempted": func() error { return q.Leases().MarkAttempted(e.ctx, stale, items[1].Seq) },
		"dead-letter":    func() error { _, err := q.Leases().DeadLetter(e.ctx, stale, items[1].Seq, "x"); return err },
		"extend":         func() error { _, err := q.Leases().Extend(e.ctx, stale, leaseTTL); return err },
		"items":          func() error { _, err := q.Leases().Items(e.ctx, stale, 0, 10); return err },
	} {
		if err := write(); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("%s under the stale lease: %v; want ErrLeaseLost", name, err)
		}
	}
	pending, _ := q.Pending(e.ctx, 0, 10)
	if len(pending) != 2 || pending[0].Attempts != 0 {
		t.Fatalf("stale writes changed the queue: %+v", pending)
	}
	if dl, _ := e.s.DeadLetters().List(e.ctx, 0, 10); len(dl) != 0 {
		t.Fatalf("a stale dead-letter went through: %+v", dl)
	}
	// A release of the lost lease leaves the new holder alone.
	if err := q.Leases().Release(e.ctx, stale); err != nil {
		t.Fatal(err)
	}
	cur := second[0].Lease
	if err := q.Leases().MarkAttempted(e.ctx, cur, items[1].Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Leases().Ack(e.ctx, cur, items[2].Seq, store.Effects{}); err != nil {
		t.Fatal(err)
	}
	if drained, err := q.Leases().Ack(e.ctx, cur, items[2].Seq, store.Effects{}); err != nil || drained {
		t.Fatalf("acking twice = drained %v, %v; want no error, and item 1 still pending", drained, err)
	}
	if _, err := q.Leases().DeadLetter(e.ctx, cur, items[1].Seq, "no good"); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Depth(e.ctx); n != 0 {
		t.Fatalf("depth %d after the holder drained the key", n)
	}
	if dl, _ := e.s.DeadLetters().List(e.ctx, 0, 10); len(dl) != 1 || dl[0].Item.Attempts != 1 {
		t.Fatalf("dead letters %+v", dl)
	}
}

// testLeaseExtendRelease: extending keeps the key from others past the
// first expiry; releasing hands it on at once; a lease covers its key only.
func testLeaseExtendRelease(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	enqueue(t, e, q, "k", "other")
	got, err := q.Leases().Claim(e.ctx, "w1", 1, 1, leaseTTL)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	l := got[0].Lease
	e.clock.Advance(leaseTTL - time.Second)
	if l, err = q.Leases().Extend(e.ctx, l, leaseTTL); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	if others, _ := q.Leases().Claim(e.ctx, "w2", 10, 1, leaseTTL); len(others) != 1 || others[0].Lease.Key != "other" {
		t.Fatalf("claim while k's lease was extended: %+v", others)
	}
	pending, _ := q.Pending(e.ctx, 0, 10)
	if _, err := q.Leases().Ack(e.ctx, l, pending[1].Seq, store.Effects{}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("ack of another key's item: %v", err)
	}
	if err := q.Leases().Release(e.ctx, l); err != nil {
		t.Fatal(err)
	}
	if next, _ := q.Leases().Claim(e.ctx, "w3", 10, 1, leaseTTL); len(next) != 1 || next[0].Lease.Key != "k" || next[0].Lease.Token <= l.Token || next[0].TakenOver {
		t.Fatalf("claim after release: %+v; want k, not a takeover", next)
	}
}

// testLeaseDrained: the ack that takes a key's last pending item releases
// its lease in the same commit; an item that arrives while the key is held
// keeps it held; a later item is claimed anew.
func testLeaseDrained(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	enqueue(t, e, q, "k", "k")
	got, err := q.Leases().Claim(e.ctx, "w1", 1, 10, leaseTTL)
	if err != nil || len(got) != 1 || len(got[0].Items) != 2 {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	l, items := got[0].Lease, got[0].Items
	if drained, err := q.Leases().Ack(e.ctx, l, items[0].Seq, store.Effects{}); err != nil || drained {
		t.Fatalf("first ack = drained %v, %v", drained, err)
	}
	enqueue(t, e, q, "k")
	if drained, err := q.Leases().Ack(e.ctx, l, items[1].Seq, store.Effects{}); err != nil || drained {
		t.Fatalf("ack with an item enqueued since = drained %v, %v; want the key still held", drained, err)
	}
	if others, _ := q.Leases().Claim(e.ctx, "w2", 10, 10, leaseTTL); len(others) != 0 {
		t.Fatalf("w2 claimed %+v while w1 holds k", others)
	}
	more, err := q.Leases().Items(e.ctx, l, items[1].Seq, 10)
	if err != nil || len(more) != 1 {
		t.Fatalf("items since = %+v, %v", more, err)
	}
	if drained, err := q.Leases().Ack(e.ctx, l, more[0].Seq, store.Effects{}); err != nil || !drained {
		t.Fatalf("ack of the last item = drained %v, %v; want drained", drained, err)
	}
	if _, err := q.Leases().Extend(e.ctx, l, leaseTTL); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("extend after the drained ack released the key: %v", err)
	}
	if n, _ := q.Depth(e.ctx); n != 0 {
		t.Fatalf("depth %d", n)
	}
	enqueue(t, e, q, "k")
	next, err := q.Leases().Claim(e.ctx, "w2", 10, 10, leaseTTL)
	if err != nil || len(next) != 1 || next[0].Lease.Key != "k" || next[0].Lease.Token <= l.Token || len(next[0].Items) != 1 {
		t.Fatalf("claim of a later item = %+v, %v", next, err)
	}
}

// testLeaseManyOwners: owners claiming and draining at once never hold a
// key together, and every key's items are done once each, in order.
func testLeaseManyOwners(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	const keys, perKey = 8, 12
	for i := range perKey {
		for k := range keys {
			if _, err := q.Enqueue(e.ctx, store.Message{Key: fmt.Sprint("k", k), Payload: []byte(fmt.Sprint(i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var (
		mu      sync.Mutex
		holders = map[string]string{}
		done    = map[string][]string{}
		wg      sync.WaitGroup
		fail    = make(chan string, 16)
	)
	for w := range 4 {
		owner := fmt.Sprint("owner-", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				claims, err := q.Leases().Claim(e.ctx, owner, 2, 3, leaseTTL)
				if err != nil {
					fail <- err.Error()
					return
				}
				if len(claims) == 0 {
					if n, _ := q.Depth(e.ctx); n == 0 {
						return
					}
					continue
				}
				for _, c := range claims {
					mu.Lock()
					if h, ok := holders[c.Lease.Key]; ok {
						fail <- fmt.Sprintf("%s and %s hold %s at once", h, owner, c.Lease.Key)
					}
					holders[c.Lease.Key] = owner
					mu.Unlock()
					for _, it := range c.Items {
						mu.Lock()
						done[it.Key] = append(done[it.Key], string(it.Payload))
						mu.Unlock()
						if _, err := q.Leases().Ack(e.ctx, c.Lease, it.Seq, store.Effects{}); err != nil {
							fail <- err.Error()
						}
					}
					mu.Lock()
					delete(holders, c.Lease.Key)
					mu.Unlock()
					if err := q.Leases().Release(e.ctx, c.Lease); err != nil {
						fail <- err.Error()
					}
				}
			}
		}()
	}
	wg.Wait()
	close(fail)
	for f := range fail {
		t.Error(f)
	}
	OnceInOrder(t, done, keys, perKey)
}

// OnceInOrder checks a consumer's record of keys k0..k<keys-1>, each with
// payloads "0".."<perKey-1>" enqueued in that order: every item was done
// exactly once, in order per key.
func OnceInOrder(t testing.TB, done map[string][]string, keys, perKey int) {
	t.Helper()
	for k := range keys {
		got := done[fmt.Sprint("k", k)]
		if len(got) != perKey {
			t.Fatalf("key k%d done %d times, want %d: %v", k, len(got), perKey, got)
		}
		for i, p := range got {
			if p != fmt.Sprint(i) {
				t.Fatalf("key k%d done out of order: %v", k, got)
			}
		}
	}
}

// testSequenceField: an item's LiveEngage sequence comes back as it went in,
// through Pending, a claim, the dead-letter list and a replay.
func testSequenceField(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	seven := int64(7)
	res, err := q.Enqueue(e.ctx, store.Message{Key: "c", Sequence: &seven, Payload: []byte("x")}, store.Message{Key: "c", Payload: []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	seven = 8 // the store keeps its own copy
	items, _ := q.Pending(e.ctx, 0, 10)
	if len(items) != 2 || items[0].Sequence == nil || *items[0].Sequence != 7 || items[1].Sequence != nil {
		t.Fatalf("pending %+v", items)
	}
	claims, err := q.Leases().Claim(e.ctx, "w", 1, 10, leaseTTL)
	if err != nil || len(claims) != 1 || claims[0].Items[0].Sequence == nil || *claims[0].Items[0].Sequence != 7 {
		t.Fatalf("claim %+v, %v", claims, err)
	}
	d, err := q.Leases().DeadLetter(e.ctx, claims[0].Lease, res[0].Seq, "x")
	if err != nil || d.Item.Sequence == nil || *d.Item.Sequence != 7 {
		t.Fatalf("dead letter %+v, %v", d, err)
	}
	back, err := e.s.DeadLetters().Replay(e.ctx, d.ID)
	if err != nil || back.Sequence == nil || *back.Sequence != 7 {
		t.Fatalf("replayed %+v, %v", back, err)
	}
}

// testOpaqueKeys: keys and dedupe keys are any UTF-8, NUL included (the
// engine joins their parts with NUL): they come back as they went in,
// claims and dedupe tell them apart; a key that is not UTF-8 is refused.
func testOpaqueKeys(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	keys := []string{"tg\x00u1", "tg\x00u1\x00receipts", "ü ключ 🔑", "tg"}
	if _, err := q.Enqueue(e.ctx, store.Message{Key: "\xff\xfe"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a key that is not UTF-8: %v; want ErrInvalid", err)
	}
	for i, k := range keys {
		if _, err := q.Enqueue(e.ctx, store.Message{Key: k, DedupeKey: k + "\x00ev", Payload: []byte{byte(i)}}); err != nil {
			t.Fatalf("enqueue key %q: %v", k, err)
		}
	}
	if r := mustEnqueue(t, e.ctx, q, store.Message{Key: keys[0], DedupeKey: keys[0] + "\x00ev"}); !r[0].Duplicate {
		t.Fatalf("dedupe key with a NUL not recognised")
	}
	claims, err := q.Leases().Claim(e.ctx, "w", 10, 10, leaseTTL)
	if err != nil || len(claims) != len(keys) {
		t.Fatalf("claim = %+v, %v; want %d keys", claims, err, len(keys))
	}
	for i, c := range claims {
		if c.Lease.Key != keys[i] || len(c.Items) != 1 || c.Items[0].Key != keys[i] || c.Items[0].DedupeKey != keys[i]+"\x00ev" {
			t.Fatalf("claim %d = %+v; want key %q with its one item", i, c, keys[i])
		}
		if i == 0 { // through the dead-letter list and back
			d, err := q.Leases().DeadLetter(e.ctx, c.Lease, c.Items[0].Seq, "x")
			if err != nil || d.Item.Key != keys[0] || d.Item.DedupeKey != keys[0]+"\x00ev" {
				t.Fatalf("dead letter of key %q = %+v, %v", keys[0], d, err)
			}
			it, err := e.s.DeadLetters().Replay(e.ctx, d.ID)
			if err != nil || it.Key != keys[0] || it.DedupeKey != keys[0]+"\x00ev" {
				t.Fatalf("replay of key %q = %+v, %v", keys[0], it, err)
			}
			continue
		}
		if drained, err := q.Leases().Ack(e.ctx, c.Lease, c.Items[0].Seq, store.Effects{}); err != nil || !drained {
			t.Fatalf("ack under key %q = %v, %v", keys[i], drained, err)
		}
	}
	replayed, err := q.Pending(e.ctx, 0, 10)
	if err != nil || len(replayed) != 1 || replayed[0].Key != keys[0] {
		t.Fatalf("pending after the replay = %+v, %v; want key %q's item", replayed, err, keys[0])
	}
}
