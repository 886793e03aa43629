package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// Opener returns a new, empty store using opts (whose Now the suite controls).
// It should register its own cleanup; the suite may Close the store itself.
type Opener func(t *testing.T, opts store.Options) store.Store

// Clock is a settable clock for store.Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	dedupeTTL = time.Hour
	linkTTL   = 2 * time.Hour
)

type env struct {
	s     store.Store
	clock *Clock
	ctx   context.Context
}

func setup(t *testing.T, open Opener) env {
	t.Helper()
	c := NewClock()
	s := open(t, store.Options{DedupeTTL: dedupeTTL, LinkTTL: linkTTL, Now: c.Now})
	return env{s: s, clock: c, ctx: t.Context()}
}

// Run runs the whole suite against stores made by open.
func Run(t *testing.T, open Opener) {
	t.Run("Consumers", func(t *testing.T) { testConsumers(t, open) })
	t.Run("ConversationOwnerRetention", func(t *testing.T) { testOwnerRetention(t, open) })
	t.Run("ConsumerByParticipant", func(t *testing.T) { testParticipants(t, open) })
	t.Run("UpdateConsumerConcurrent", func(t *testing.T) { testUpdateConsumerConcurrent(t, open) })
	t.Run("ConsumerTokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("Links", func(t *testing.T) { testLinks(t, open) })
	t.Run("LinksExpire", func(t *testing.T) { testLinksExpire(t, open) })
	t.Run("Choices", func(t *testing.T) { testChoices(t, open) })
	t.Run("DeliveryState", func(t *testing.T) { testDeliveryState(t, open) })
	t.Run("RecordEchoes", func(t *testing.T) { testRecordEchoes(t, open) })
	t.Run("SendJournal", func(t *testing.T) { testSendJournal(t, open) })
	t.Run("SendIntents", func(t *testing.T) { testSendIntents(t, open) })
	t.Run("Singletons", func(t *testing.T) { testSingletons(t, open) })
	for _, q := range []store.QueueName{store.Inbound, store.Outbound} {
		t.Run(string(q), func(t *testing.T) {
			t.Run("EnqueueOrder", func(t *testing.T) { testEnqueueOrder(t, open, q) })
			t.Run("Dedupe", func(t *testing.T) { testDedupe(t, open, q) })
			t.Run("AllOrNothing", func(t *testing.T) { testAllOrNothing(t, open, q) })
			t.Run("AckAndDepth", func(t *testing.T) { testAck(t, open, q) })
			t.Run("AckWithLinks", func(t *testing.T) { testAckWithLinks(t, open, q) })
			t.Run("Attempts", func(t *testing.T) { testAttempts(t, open, q) })
			t.Run("ConcurrentPerKeyOrder", func(t *testing.T) { testConcurrentOrder(t, open, q) })
			t.Run("Wait", func(t *testing.T) { testWait(t, open, q) })
			t.Run("DeadLetters", func(t *testing.T) { testDeadLetters(t, open, q) })
			t.Run("LeaseClaim", func(t *testing.T) { testLeaseClaim(t, open, q) })
			t.Run("LeaseFencing", func(t *testing.T) { testLeaseFencing(t, open, q) })
			t.Run("LeaseExtendRelease", func(t *testing.T) { testLeaseExtendRelease(t, open, q) })
			t.Run("LeaseManyOwners", func(t *testing.T) { testLeaseManyOwners(t, open, q) })
			t.Run("LeaseDrained", func(t *testing.T) { testLeaseDrained(t, open, q) })
			t.Run("SequenceField", func(t *testing.T) { testSequenceField(t, open, q) })
			t.Run("OpaqueKeys", func(t *testing.T) { testOpaqueKeys(t, open, q) })
		})
	}
	t.Run("DedupePerQueue", func(t *testing.T) { testDedupePerQueue(t, open) })
	t.Run("PurgeExpiredBounded", func(t *testing.T) { testPurge(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
}

func queueOf(s store.Store, q store.QueueName) store.Queue {
	if q == store.Inbound {
		return s.Inbound()
	}
	return s.Outbound()
}

func mustEnqueue(t *testing.T, ctx context.Context, q store.Queue, msgs ...store.Message) []store.EnqueueResult {
	t.Helper()
	res, err := q.Enqueue(ctx, msgs...)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if len(res) != len(msgs) {
		t.Fatalf("Enqueue returned %d results for %d messages", len(res), len(msgs))
	}
	return res
}

// hold claims key for a test and returns its lease; whatever other keys
// the claim took are released again.
func hold(t *testing.T, e env, q store.Queue, key string) store.Lease {
	t.Helper()
	claims, err := q.Leases().Claim(e.ctx, "storetest", 10000, 1, time.Hour)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	var lease store.Lease
	for _, c := range claims {
		if c.Lease.Key == key {
			lease = c.Lease
			continue
		}
		if err := q.Leases().Release(e.ctx, c.Lease); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
	if lease.Key == "" {
		t.Fatalf("key %q has no pending item or is held already", key)
	}
	return lease
}

func mustPending(t *testing.T, ctx context.Context, q store.Queue) []store.Item {
	t.Helper()
	items, err := q.Pending(ctx, 0, 0)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return items
}

func payloads(items []store.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it.Payload)
	}
	return out
}

func testConsumers(t *testing.T, open Opener) {
	e := setup(t, open)
	id := store.Identity{Channel: "telegram", ConsumerID: "42"}
	if _, err := e.s.GetConsumer(e.ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConsumer of unknown identity: err %v, want ErrNotFound", err)
	}
	c1, err := e.s.PutConsumer(e.ctx, store.Consumer{
		Identity: id, Address: store.Address{ChatID: "chat-42"}, ExtConsumerID: "ext-1",
		Conversation: store.Conversation{ID: "conv-1", DialogID: "dlg-1", State: store.StateOpen, OpenedAt: e.clock.Now()},
		Attrs:        map[string]string{"csat": "q1"},
	})
	if err != nil {
		t.Fatalf("PutConsumer create: %v", err)
	}
	if c1.Revision != 1 || !c1.UpdatedAt.Equal(e.clock.Now()) {
		t.Fatalf("created consumer: revision %d updated %v, want 1 and %v", c1.Revision, c1.UpdatedAt, e.clock.Now())
	}
	got, err := e.s.GetConsumer(e.ctx, id)
	if err != nil {
		t.Fatalf("GetConsumer: %v", err)
	}
	if got.ExtConsumerID != "ext-1" || got.Address.ChatID != "chat-42" || got.Conversation.ID != "conv-1" ||
		got.Conversation.DialogID != "dlg-1" || got.Conversation.State != store.StateOpen ||
		!got.Conversation.OpenedAt.Equal(e.clock.Now()) || got.Attrs["csat"] != "q1" || got.Revision != 1 {
		t.Fatalf("GetConsumer returned %+v", got)
	}

	tests := []struct {
		name     string
		revision uint64
	}{
		{"create over existing", 0},
		{"stale revision", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := got
			c.Revision = tc.revision
			c.ExtConsumerID = "overwritten"
			if _, err := e.s.PutConsumer(e.ctx, c); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("PutConsumer with revision %d: err %v, want ErrConflict", tc.revision, err)
			}
			after, err := e.s.GetConsumer(e.ctx, id)
			if err != nil || after.ExtConsumerID != "ext-1" || after.Revision != 1 {
				t.Fatalf("record changed by a conflicting put: %+v, %v", after, err)
			}
		})
	}

	// Moving on to a new conversation keeps the old one's owner.
	got.Conversation = store.Conversation{ID: "conv-2", State: store.StateOpen}
	c2, err := e.s.PutConsumer(e.ctx, got)
	if err != nil || c2.Revision != 2 {
		t.Fatalf("PutConsumer update: %+v, %v", c2, err)
	}
	for _, conv := range []string{"conv-1", "conv-2"} {
		owner, err := e.s.ConversationOwner(e.ctx, conv)
		if err != nil || owner != id {
			t.Fatalf("ConversationOwner(%s) = %+v, %v; want %+v", conv, owner, err, id)
		}
	}
	if _, err := e.s.ConversationOwner(e.ctx, "not-ours"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ConversationOwner of a foreign conversation: err %v, want ErrNotFound", err)
	}
	if _, err := e.s.PutConsumer(e.ctx, store.Consumer{Identity: store.Identity{Channel: "telegram"}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("PutConsumer without consumer id: err %v, want ErrInvalid", err)
	}
	// Returned records are copies: changing them changes nothing stored.
	c2.Attrs["csat"] = "mutated"
	again, _ := e.s.GetConsumer(e.ctx, id)
	if again.Attrs["csat"] != "q1" {
		t.Fatalf("stored attrs aliased the returned map: %v", again.Attrs)
	}
}

// testParticipants: a consumer is found by the participant id its record
// holds, and a changed id replaces the old one.
func testParticipants(t *testing.T, open Opener) {
	e := setup(t, open)
	alice := store.Identity{Channel: "telegram", ConsumerID: "1"}
	bob := store.Identity{Channel: "slack", ConsumerID: "U2"}
	if _, err := e.s.ConsumerByParticipant(e.ctx, "p-alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown participant: err %v, want ErrNotFound", err)
	}
	a, err := e.s.PutConsumer(e.ctx, store.Consumer{Identity: alice, ParticipantID: "p-alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.PutConsumer(e.ctx, store.Consumer{Identity: bob}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.ConsumerByParticipant(e.ctx, "p-alice"); err != nil || got != alice {
		t.Fatalf("ConsumerByParticipant = %+v, %v; want %+v", got, err, alice)
	}
	a.ParticipantID = "p-alice-2"
	if _, err := e.s.PutConsumer(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ConsumerByParticipant(e.ctx, "p-alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replaced participant id still found: %v", err)
	}
	if got, err := e.s.ConsumerByParticipant(e.ctx, "p-alice-2"); err != nil || got != alice {
		t.Fatalf("new participant id: %+v, %v", got, err)
	}
}

// testOwnerRetention: a conversation the consumer moved on from keeps its
// owner for LinkTTL, the current one for ever.
func testOwnerRetention(t *testing.T, open Opener) {
	e := setup(t, open)
	id := store.Identity{Channel: "slack", ConsumerID: "U1"}
	c, err := e.s.PutConsumer(e.ctx, store.Consumer{Identity: id, Conversation: store.Conversation{ID: "old", State: store.StateOpen}})
	if err != nil {
		t.Fatal(err)
	}
	c.Conversation = store.Conversation{ID: "new", State: store.StateOpen}
	if _, err := e.s.PutConsumer(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		oldSeen bool
		purged  int
	}{
		{"just retired", 0, true, 0},
		{"before retention ends", linkTTL - time.Second, true, 0},
		{"retention over", time.Second, false, 1},
		{"much later", 100 * linkTTL, false, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.clock.Advance(st.advance)
			_, err := e.s.ConversationOwner(e.ctx, "old")
			if seen := err == nil; seen != st.oldSeen || (err != nil && !errors.Is(err, store.ErrNotFound)) {
				t.Fatalf("ConversationOwner(old): err %v, want found=%v", err, st.oldSeen)
			}
			if owner, err := e.s.ConversationOwner(e.ctx, "new"); err != nil || owner != id {
				t.Fatalf("ConversationOwner(new) = %+v, %v", owner, err)
			}
			if n, err := e.s.PurgeExpired(e.ctx, 10); err != nil || n != st.purged {
				t.Fatalf("PurgeExpired = %d, %v; want %d", n, err, st.purged)
			}
		})
	}
	// Going back to a retired conversation makes it current again: a later
	// purge of its old retirement leaves it alone.
	e2 := setup(t, open)
	c2, err := e2.s.PutConsumer(e2.ctx, store.Consumer{Identity: id, Conversation: store.Conversation{ID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, conv := range []string{"b", "a"} {
		c2.Conversation.ID = conv
		if c2, err = e2.s.PutConsumer(e2.ctx, c2); err != nil {
			t.Fatal(err)
		}
	}
	e2.clock.Advance(linkTTL)
	if n, err := e2.s.PurgeExpired(e2.ctx, 10); err != nil || n != 1 { // only "b"
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
	if _, err := e2.s.ConversationOwner(e2.ctx, "a"); err != nil {
		t.Fatalf("current conversation lost its owner: %v", err)
	}
	if _, err := e2.s.ConversationOwner(e2.ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retired conversation b: err %v, want ErrNotFound", err)
	}
}

func testUpdateConsumerConcurrent(t *testing.T, open Opener) {
	e := setup(t, open)
	id := store.Identity{Channel: "sms", ConsumerID: "+100"}
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := store.UpdateConsumer(e.ctx, e.s, id, func(c *store.Consumer) error {
					n, _ := strconv.Atoi(c.Attrs["n"])
					if c.Attrs == nil {
						c.Attrs = map[string]string{}
					}
					c.Attrs["n"] = strconv.Itoa(n + 1)
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// Exhausted retries are possible under heavy contention; anything
		// else is a bug.
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("UpdateConsumer: %v", err)
		}
		t.Logf("UpdateConsumer gave up once: %v", err)
	}
	c, err := e.s.GetConsumer(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(c.Attrs["n"])
	if uint64(n) != c.Revision {
		t.Fatalf("counter %d but %d revisions: an update was lost", n, c.Revision)
	}
	if n == 0 {
		t.Fatal("no update succeeded")
	}
}

func testTokens(t *testing.T, open Opener) {
	e := setup(t, open)
	if tok, ok, err := e.s.GetConsumerToken(e.ctx, "ext-1"); err != nil || ok || tok != "" {
		t.Fatalf("GetConsumerToken of unknown id = %q, %v, %v", tok, ok, err)
	}
	for _, tok := range []string{"jws-1", "jws-2"} {
		if err := e.s.PutConsumerToken(e.ctx, "ext-1", tok); err != nil {
			t.Fatalf("PutConsumerToken: %v", err)
		}
		got, ok, err := e.s.GetConsumerToken(e.ctx, "ext-1")
		if err != nil || !ok || got != tok {
			t.Fatalf("GetConsumerToken = %q, %v, %v; want %q", got, ok, err, tok)
		}
	}
	if err := e.s.PutConsumerToken(e.ctx, "", "x"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("PutConsumerToken with empty id: err %v, want ErrInvalid", err)
	}
}

func testLinks(t *testing.T, open Opener) {
	e := setup(t, open)
	links := []store.MessageLink{
		{Channel: "telegram", ChatID: "c1", ChannelMessageID: "101", ConversationID: "conv", Sequence: 3},
		{Channel: "telegram", ChatID: "c1", ChannelMessageID: "102", ConversationID: "conv", Sequence: 3},
		{Channel: "telegram", ChatID: "c2", ChannelMessageID: "101", ConversationID: "conv-b", Sequence: 0},
	}
	if err := e.s.PutLinks(e.ctx, links...); err != nil {
		t.Fatalf("PutLinks: %v", err)
	}
	for _, l := range links {
		got, err := e.s.LinkByChannelMessage(e.ctx, l.Channel, l.ChatID, l.ChannelMessageID)
		if err != nil || got != l {
			t.Fatalf("LinkByChannelMessage(%s/%s/%s) = %+v, %v; want %+v", l.Channel, l.ChatID, l.ChannelMessageID, got, err, l)
		}
	}
	got, err := e.s.LinksBySequence(e.ctx, "conv", 3)
	if err != nil || !slices.Equal(got, links[:2]) {
		t.Fatalf("LinksBySequence(conv, 3) = %+v, %v; want %+v", got, err, links[:2])
	}
	if got, err := e.s.LinksBySequence(e.ctx, "conv", 4); err != nil || len(got) != 0 {
		t.Fatalf("LinksBySequence of unknown sequence = %+v, %v", got, err)
	}
	if _, err := e.s.LinkByChannelMessage(e.ctx, "telegram", "c3", "101"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LinkByChannelMessage of unknown message: err %v, want ErrNotFound", err)
	}
	// Relinking a platform message moves it to the new sequence.
	moved := links[1]
	moved.Sequence = 4
	if err := e.s.PutLinks(e.ctx, moved); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.LinksBySequence(e.ctx, "conv", 3); !slices.Equal(got, links[:1]) {
		t.Fatalf("after relink, sequence 3 has %+v, want %+v", got, links[:1])
	}
	if got, _ := e.s.LinksBySequence(e.ctx, "conv", 4); !slices.Equal(got, []store.MessageLink{moved}) {
		t.Fatalf("after relink, sequence 4 has %+v", got)
	}
	bad := []store.MessageLink{
		{ChatID: "c", ChannelMessageID: "m", ConversationID: "x"},
		{Channel: "t", ChatID: "c", ChannelMessageID: "m", ConversationID: "x", Sequence: -1},
	}
	for i, l := range bad {
		if err := e.s.PutLinks(e.ctx, links[0], l); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("PutLinks bad[%d]: err %v, want ErrInvalid", i, err)
		}
	}
}

// testChoices: a choice is found by its consumer and id, keeps its
// metadata byte for byte, is per consumer, and expires like a link.
func testChoices(t *testing.T, open Opener) {
	e := setup(t, open)
	alice := store.Identity{Channel: "telegram", ConsumerID: "1"}
	bob := store.Identity{Channel: "telegram", ConsumerID: "2"}
	yes := store.Choice{Identity: alice, ID: "lc:conv:4:0", ConversationID: "conv", Sequence: 4,
		Metadata: []byte(`[{"type":"ExternalId","id":"yes-button"}]`), PublishText: "yes"}
	link := store.Choice{Identity: alice, ID: "lc:conv:4:1", ConversationID: "conv", Sequence: 4}
	if err := e.s.PutChoices(e.ctx, yes, link); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.GetChoice(e.ctx, alice, yes.ID)
	if err != nil || got.PublishText != "yes" || string(got.Metadata) != string(yes.Metadata) || got.Sequence != 4 || got.ConversationID != "conv" {
		t.Fatalf("GetChoice = %+v, %v; want %+v", got, err, yes)
	}
	if got, err := e.s.GetChoice(e.ctx, alice, link.ID); err != nil || got.Metadata != nil || got.PublishText != "" {
		t.Fatalf("GetChoice(link) = %+v, %v", got, err)
	}
	if _, err := e.s.GetChoice(e.ctx, bob, yes.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another consumer's choice: err %v, want ErrNotFound", err)
	}
	if err := e.s.PutChoices(e.ctx, store.Choice{Identity: alice, ConversationID: "conv"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("PutChoices without an id: err %v, want ErrInvalid", err)
	}
	e.clock.Advance(linkTTL)
	if _, err := e.s.GetChoice(e.ctx, alice, yes.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("choice after its TTL: err %v, want ErrNotFound", err)
	}
	if n, err := e.s.PurgeExpired(e.ctx, 10); err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v; want the 2 choices", n, err)
	}
}

func testLinksExpire(t *testing.T, open Opener) {
	e := setup(t, open)
	l := store.MessageLink{Channel: "slack", ChatID: "C1", ChannelMessageID: "1.2", ConversationID: "conv", Sequence: 1}
	if err := e.s.PutLinks(e.ctx, l); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(linkTTL - time.Second)
	if _, err := e.s.LinkByChannelMessage(e.ctx, l.Channel, l.ChatID, l.ChannelMessageID); err != nil {
		t.Fatalf("link gone before its TTL: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.s.LinkByChannelMessage(e.ctx, l.Channel, l.ChatID, l.ChannelMessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("link after its TTL: err %v, want ErrNotFound", err)
	}
	if got, err := e.s.LinksBySequence(e.ctx, "conv", 1); err != nil || len(got) != 0 {
		t.Fatalf("LinksBySequence after TTL = %+v, %v", got, err)
	}
	if n, err := e.s.PurgeExpired(e.ctx, 10); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
	// Re-putting a link refreshes it: a purge at its first expiry keeps it.
	if err := e.s.PutLinks(e.ctx, l); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(linkTTL / 2)
	if err := e.s.PutLinks(e.ctx, l); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(linkTTL / 2)
	if n, err := e.s.PurgeExpired(e.ctx, 10); err != nil || n != 0 {
		t.Fatalf("PurgeExpired with only a refreshed link due = %d, %v; want 0", n, err)
	}
	if got, err := e.s.LinksBySequence(e.ctx, "conv", 1); err != nil || len(got) != 1 {
		t.Fatalf("refreshed link after purge = %+v, %v", got, err)
	}
}

func testEnqueueOrder(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	if q.Name() != qn {
		t.Fatalf("Name() = %q, want %q", q.Name(), qn)
	}
	var want []string
	var lastSeq uint64
	for i := range 5 {
		msgs := []store.Message{
			{Key: "a", Payload: []byte(fmt.Sprintf("a%d", i))},
			{Key: "b", Payload: []byte(fmt.Sprintf("b%d", i))},
		}
		for j, r := range mustEnqueue(t, e.ctx, q, msgs...) {
			if r.Duplicate || r.Seq <= lastSeq {
				t.Fatalf("result %+v after seq %d: want a new, larger seq", r, lastSeq)
			}
			lastSeq = r.Seq
			want = append(want, string(msgs[j].Payload))
		}
	}
	items := mustPending(t, e.ctx, q)
	if got := payloads(items); !slices.Equal(got, want) {
		t.Fatalf("Pending payloads %v, want %v", got, want)
	}
	for _, it := range items {
		if !it.EnqueuedAt.Equal(e.clock.Now()) || it.Key == "" || it.Replays != 0 {
			t.Fatalf("item %+v: bad metadata", it)
		}
	}
	// Paging with after/limit walks the same sequence.
	var paged []store.Item
	for after := uint64(0); ; {
		page, err := q.Pending(e.ctx, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("Pending with limit 3 returned %d items", len(page))
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	if !slices.EqualFunc(paged, items, func(a, b store.Item) bool { return a.Seq == b.Seq && bytes.Equal(a.Payload, b.Payload) }) {
		t.Fatalf("paged Pending differs from one-shot Pending")
	}
	if res, err := q.Enqueue(e.ctx); err != nil || len(res) != 0 {
		t.Fatalf("empty Enqueue = %v, %v", res, err)
	}
}

func testDedupe(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	res := mustEnqueue(t, e.ctx, q,
		store.Message{Key: "k", DedupeKey: "ev-1", Payload: []byte("1")},
		store.Message{Key: "k", DedupeKey: "ev-1", Payload: []byte("1 again in batch")},
		store.Message{Key: "k", DedupeKey: "ev-short", DedupeTTL: time.Minute, Payload: []byte("short")},
		store.Message{Key: "k", Payload: []byte("no key")},
	)
	if res[0].Duplicate || !res[1].Duplicate || res[1].Seq != 0 || res[2].Duplicate || res[3].Duplicate {
		t.Fatalf("first batch results %+v", res)
	}
	tests := []struct {
		name    string
		advance time.Duration
		key     string
		dup     bool
	}{
		{"same key within TTL", 0, "ev-1", true},
		{"per-message TTL still running", 59 * time.Second, "ev-short", true},
		{"per-message TTL over", time.Second, "ev-short", false},
		{"store TTL not over yet", dedupeTTL - time.Minute - time.Second, "ev-1", true},
		{"store TTL over", time.Second, "ev-1", false},
		{"accepted again after expiry is a duplicate again", 0, "ev-1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(tc.advance)
			r := mustEnqueue(t, e.ctx, q, store.Message{Key: "k", DedupeKey: tc.key, Payload: []byte(tc.name)})
			if r[0].Duplicate != tc.dup {
				t.Fatalf("Duplicate = %v, want %v", r[0].Duplicate, tc.dup)
			}
		})
	}
	want := []string{"1", "short", "no key", "per-message TTL over", "store TTL over"}
	if got := payloads(mustPending(t, e.ctx, q)); !slices.Equal(got, want) {
		t.Fatalf("Pending %v, want %v", got, want)
	}
}

func testDedupePerQueue(t *testing.T, open Opener) {
	e := setup(t, open)
	msg := store.Message{Key: "k", DedupeKey: "same", Payload: []byte("x")}
	for _, q := range []store.Queue{e.s.Inbound(), e.s.Outbound()} {
		if r := mustEnqueue(t, e.ctx, q, msg); r[0].Duplicate {
			t.Fatalf("%s: dedupe key of the other queue suppressed this one", q.Name())
		}
	}
}

func testAllOrNothing(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	bad := []struct {
		name string
		msg  store.Message
	}{
		{"empty key", store.Message{DedupeKey: "d3"}},
		{"key too long", store.Message{Key: string(make([]byte, store.MaxKeyLen+1))}},
		{"dedupe key too long", store.Message{Key: "k", DedupeKey: string(make([]byte, store.MaxKeyLen+1))}},
		{"negative ttl", store.Message{Key: "k", DedupeKey: "d4", DedupeTTL: -time.Second}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := q.Enqueue(e.ctx,
				store.Message{Key: "k", DedupeKey: "d1", Payload: []byte("1")},
				tc.msg,
				store.Message{Key: "k", DedupeKey: "d2", Payload: []byte("2")},
			)
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Enqueue with a bad message: err %v, want ErrInvalid", err)
			}
			if n, err := q.Depth(e.ctx); err != nil || n != 0 {
				t.Fatalf("Depth after rejected batch = %d, %v; want 0", n, err)
			}
		})
	}
	// The rejected batches consumed no dedupe key.
	r := mustEnqueue(t, e.ctx, q, store.Message{Key: "k", DedupeKey: "d1"}, store.Message{Key: "k", DedupeKey: "d2"})
	if r[0].Duplicate || r[1].Duplicate {
		t.Fatalf("dedupe keys of a rejected batch were kept: %+v", r)
	}
}

// An ack removes the item and stores its links together; links are stored
// even for an item already acked (a repeat after a crash).
func testAckWithLinks(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	res := mustEnqueue(t, e.ctx, q, store.Message{Key: "a", Payload: []byte("1")}, store.Message{Key: "a", Payload: []byte("2")})
	lease := hold(t, e, q, "a")
	ack := func(seq uint64, links ...store.MessageLink) error {
		_, err := q.Leases().Ack(e.ctx, lease, seq, store.Effects{Links: links})
		return err
	}
	link := store.MessageLink{Channel: "tg", ChatID: "42", ChannelMessageID: "m1", ConversationID: "c1", Sequence: 7}
	if err := ack(res[0].Seq, link); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	items, err := q.Pending(e.ctx, 0, 10)
	if err != nil || len(items) != 1 || items[0].Seq != res[1].Seq {
		t.Fatalf("Pending after Ack = %v, %v; want only the second item", items, err)
	}
	if n, err := q.Depth(e.ctx); err != nil || n != 1 {
		t.Fatalf("Depth = %d, %v; want 1", n, err)
	}
	if got, err := e.s.LinkByChannelMessage(e.ctx, "tg", "42", "m1"); err != nil || got != link {
		t.Fatalf("LinkByChannelMessage = %+v, %v", got, err)
	}
	if got, err := e.s.LinksBySequence(e.ctx, "c1", 7); err != nil || len(got) != 1 || got[0] != link {
		t.Fatalf("LinksBySequence = %+v, %v", got, err)
	}
	again := store.MessageLink{Channel: "tg", ChatID: "42", ChannelMessageID: "m2", ConversationID: "c1", Sequence: 8}
	if err := ack(res[0].Seq, again); err != nil {
		t.Fatalf("Ack of an acked item: %v", err)
	}
	if _, err := e.s.LinkByChannelMessage(e.ctx, "tg", "42", "m2"); err != nil {
		t.Fatalf("links of a repeated Ack not stored: %v", err)
	}
	if err := ack(res[1].Seq, store.MessageLink{Channel: "tg"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Ack with an invalid link = %v; want ErrInvalid", err)
	}
	if n, _ := q.Depth(e.ctx); n != 1 {
		t.Fatalf("an invalid Ack acked the item")
	}
}

func testAck(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	res := mustEnqueue(t, e.ctx, q,
		store.Message{Key: "a", Payload: []byte("1")},
		store.Message{Key: "a", Payload: []byte("2")},
		store.Message{Key: "b", Payload: []byte("3")},
	)
	if n, err := q.Depth(e.ctx); err != nil || n != 3 {
		t.Fatalf("Depth = %d, %v; want 3", n, err)
	}
	leases := map[string]store.Lease{"a": hold(t, e, q, "a"), "b": hold(t, e, q, "b")}
	steps := []struct {
		name    string
		key     string
		seq     uint64
		drained bool
		depth   int
		want    []string
	}{
		{"ack first", "a", res[0].Seq, false, 2, []string{"2", "3"}},
		{"ack again is a no-op", "a", res[0].Seq, false, 2, []string{"2", "3"}},
		{"ack unknown seq", "a", 9999, false, 2, []string{"2", "3"}},
		{"ack b's only item", "b", res[2].Seq, true, 1, []string{"2"}},
		{"ack a's last item", "a", res[1].Seq, true, 0, []string{}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			drained, err := q.Leases().Ack(e.ctx, leases[st.key], st.seq, store.Effects{})
			if err != nil || drained != st.drained {
				t.Fatalf("Ack = drained %v, %v; want drained %v", drained, err, st.drained)
			}
			if n, err := q.Depth(e.ctx); err != nil || n != st.depth {
				t.Fatalf("Depth = %d, %v; want %d", n, err, st.depth)
			}
			if got := payloads(mustPending(t, e.ctx, q)); !slices.Equal(got, st.want) {
				t.Fatalf("Pending %v, want %v", got, st.want)
			}
		})
	}
	// Sequences are never reused.
	r := mustEnqueue(t, e.ctx, q, store.Message{Key: "a"})
	if r[0].Seq <= res[2].Seq {
		t.Fatalf("seq %d reused after ack (last was %d)", r[0].Seq, res[2].Seq)
	}
}

func testAttempts(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	res := mustEnqueue(t, e.ctx, q, store.Message{Key: "a", Payload: []byte("1")}, store.Message{Key: "a", Payload: []byte("2")})
	lease := hold(t, e, q, "a")
	for range 2 {
		if err := q.Leases().MarkAttempted(e.ctx, lease, res[0].Seq); err != nil {
			t.Fatalf("MarkAttempted: %v", err)
		}
	}
	items := mustPending(t, e.ctx, q)
	if len(items) != 2 || items[0].Attempts != 2 || items[1].Attempts != 0 || string(items[0].Payload) != "1" {
		t.Fatalf("Pending after MarkAttempted = %+v", items)
	}
	if err := q.Leases().MarkAttempted(e.ctx, lease, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MarkAttempted of unknown seq: err %v, want ErrNotFound", err)
	}
	d, err := q.Leases().DeadLetter(e.ctx, lease, res[0].Seq, "gave up")
	if err != nil || d.Item.Attempts != 2 {
		t.Fatalf("dead letter = %+v, %v; want Attempts 2", d, err)
	}
	// Replay keeps the count: the side effect may have happened.
	it, err := e.s.DeadLetters().Replay(e.ctx, d.ID)
	if err != nil || it.Attempts != 2 {
		t.Fatalf("replayed = %+v, %v; want Attempts 2", it, err)
	}
	if err := q.Leases().MarkAttempted(e.ctx, lease, res[0].Seq); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MarkAttempted of a dead-lettered seq: err %v, want ErrNotFound", err)
	}
}

// testConcurrentOrder: producers for different keys run in parallel, each
// producing its key's items in order (sometimes several per batch). Pending
// must return every item once, in order per key.
func testConcurrentOrder(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	const keys, perKey = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	for k := range keys {
		wg.Go(func() {
			key := fmt.Sprintf("conv-%d", k)
			for i := 0; i < perKey; {
				n := 1 + (i+k)%3 // batches of 1..3
				var msgs []store.Message
				for j := 0; j < n && i < perKey; j++ {
					msgs = append(msgs, store.Message{Key: key, DedupeKey: fmt.Sprintf("%s/%d", key, i), Payload: []byte(strconv.Itoa(i))})
					i++
				}
				if _, err := q.Enqueue(e.ctx, msgs...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Enqueue: %v", err)
	}
	next := map[string]int{}
	var prev uint64
	items := mustPending(t, e.ctx, q)
	for _, it := range items {
		if it.Seq <= prev {
			t.Fatalf("Pending not in seq order: %d after %d", it.Seq, prev)
		}
		prev = it.Seq
		n, _ := strconv.Atoi(string(it.Payload))
		if n != next[it.Key] {
			t.Fatalf("key %s: got item %d, want %d", it.Key, n, next[it.Key])
		}
		next[it.Key]++
	}
	if len(items) != keys*perKey {
		t.Fatalf("Pending returned %d items, want %d", len(items), keys*perKey)
	}
}

func testWait(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	// Nothing committed: Wait blocks until its context ends.
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel()
	if err := q.Wait(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on an empty queue: err %v, want DeadlineExceeded", err)
	}
	done := make(chan error, 1)
	go func() { done <- q.Wait(e.ctx, 0) }()
	mark := q.Last()
	r := mustEnqueue(t, e.ctx, q, store.Message{Key: "k"})
	if err := <-done; err != nil {
		t.Fatalf("Wait woken by Enqueue: %v", err)
	}
	// Already past: returns at once, even after the item is acked.
	if _, err := q.Leases().Ack(e.ctx, hold(t, e, q, "k"), r[0].Seq, store.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := q.Wait(e.ctx, mark); err != nil {
		t.Fatalf("Wait for an already committed seq: %v", err)
	}
}

func testDeadLetters(t *testing.T, open Opener, qn store.QueueName) {
	e := setup(t, open)
	q := queueOf(e.s, qn)
	dl := e.s.DeadLetters()
	res := mustEnqueue(t, e.ctx, q,
		store.Message{Key: "a", DedupeKey: "ev-1", Payload: []byte("poison")},
		store.Message{Key: "a", Payload: []byte("next")},
		store.Message{Key: "b", Payload: []byte("other")},
	)
	la, lb := hold(t, e, q, "a"), hold(t, e, q, "b")
	d1, err := q.Leases().DeadLetter(e.ctx, la, res[0].Seq, "400 bad request")
	if err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	if d1.ID == 0 || d1.Queue != qn || d1.Reason != "400 bad request" || d1.Item.Seq != res[0].Seq ||
		string(d1.Item.Payload) != "poison" || d1.Item.DedupeKey != "ev-1" || !d1.DeadAt.Equal(e.clock.Now()) {
		t.Fatalf("dead letter %+v", d1)
	}
	if _, err := q.Leases().DeadLetter(e.ctx, la, res[0].Seq, "again"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeadLetter of a seq no longer pending: err %v, want ErrNotFound", err)
	}
	d2, err := q.Leases().DeadLetter(e.ctx, lb, res[2].Seq, "permanent")
	if err != nil || d2.ID <= d1.ID {
		t.Fatalf("second DeadLetter = %+v, %v", d2, err)
	}
	if got := payloads(mustPending(t, e.ctx, q)); !slices.Equal(got, []string{"next"}) {
		t.Fatalf("Pending after dead-lettering = %v", got)
	}
	if n, _ := q.Depth(e.ctx); n != 1 {
		t.Fatalf("Depth after dead-lettering = %d, want 1", n)
	}
	list, err := dl.List(e.ctx, 0, 0)
	if err != nil || len(list) != 2 || list[0].ID != d1.ID || list[1].ID != d2.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if page, _ := dl.List(e.ctx, d1.ID, 10); len(page) != 1 || page[0].ID != d2.ID {
		t.Fatalf("List after first = %+v", page)
	}
	if got, err := dl.Get(e.ctx, d1.ID); err != nil || got.Reason != d1.Reason || string(got.Item.Payload) != "poison" {
		t.Fatalf("Get = %+v, %v", got, err)
	}

	// Replay puts the item at the tail, behind "next", with a new seq.
	it, err := dl.Replay(e.ctx, d1.ID)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if it.Seq <= res[2].Seq || it.Replays != 1 || string(it.Payload) != "poison" || it.Key != "a" || it.DedupeKey != "ev-1" {
		t.Fatalf("replayed item %+v", it)
	}
	if got := payloads(mustPending(t, e.ctx, q)); !slices.Equal(got, []string{"next", "poison"}) {
		t.Fatalf("Pending after replay = %v", got)
	}
	// Its dedupe key still holds: the platform's retry is still a duplicate.
	if r := mustEnqueue(t, e.ctx, q, store.Message{Key: "a", DedupeKey: "ev-1"}); !r[0].Duplicate {
		t.Fatal("replayed item's dedupe key was released")
	}
	if err := dl.Drop(e.ctx, d2.ID); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	notFound := []struct {
		name string
		call func() error
	}{
		{"get replayed", func() error { _, err := dl.Get(e.ctx, d1.ID); return err }},
		{"replay twice", func() error { _, err := dl.Replay(e.ctx, d1.ID); return err }},
		{"drop twice", func() error { return dl.Drop(e.ctx, d2.ID) }},
		{"drop unknown", func() error { return dl.Drop(e.ctx, 9999) }},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err %v, want ErrNotFound", err)
			}
		})
	}
	if list, _ := dl.List(e.ctx, 0, 0); len(list) != 0 {
		t.Fatalf("List after replay and drop = %+v", list)
	}
	// A replayed item can fail again and come back again.
	d3, err := q.Leases().DeadLetter(e.ctx, la, it.Seq, "still bad")
	if err != nil || d3.ID <= d2.ID {
		t.Fatalf("DeadLetter of replayed item = %+v, %v", d3, err)
	}
	it2, err := dl.Replay(e.ctx, d3.ID)
	if err != nil || it2.Replays != 2 {
		t.Fatalf("second replay = %+v, %v", it2, err)
	}
}

func testPurge(t *testing.T, open Opener) {
	e := setup(t, open)
	for i := range 5 {
		mustEnqueue(t, e.ctx, e.s.Inbound(), store.Message{Key: "k", DedupeKey: fmt.Sprintf("in-%d", i)})
	}
	mustEnqueue(t, e.ctx, e.s.Outbound(), store.Message{Key: "k", DedupeKey: "out-long", DedupeTTL: 10 * dedupeTTL})
	if n, err := e.s.PurgeExpired(e.ctx, 100); err != nil || n != 0 {
		t.Fatalf("PurgeExpired before expiry = %d, %v; want 0", n, err)
	}
	e.clock.Advance(dedupeTTL)
	for _, want := range []int{2, 2, 1, 0} {
		if n, err := e.s.PurgeExpired(e.ctx, 2); err != nil || n != want {
			t.Fatalf("PurgeExpired(2) = %d, %v; want %d", n, err, want)
		}
	}
	// The long-lived key survived the purge.
	if r := mustEnqueue(t, e.ctx, e.s.Outbound(), store.Message{Key: "k", DedupeKey: "out-long"}); !r[0].Duplicate {
		t.Fatal("purge removed a dedupe key that had not expired")
	}
	// A key accepted again after it expired lives by its new expiry, even
	// when the purge reaches its old one.
	mustEnqueue(t, e.ctx, e.s.Inbound(), store.Message{Key: "k", DedupeKey: "again"})
	e.clock.Advance(dedupeTTL)
	if r := mustEnqueue(t, e.ctx, e.s.Inbound(), store.Message{Key: "k", DedupeKey: "again"}); r[0].Duplicate {
		t.Fatal("expired key still suppresses")
	}
	if n, err := e.s.PurgeExpired(e.ctx, 100); err != nil || n != 0 {
		t.Fatalf("PurgeExpired with only a refreshed key due = %d, %v; want 0", n, err)
	}
	if r := mustEnqueue(t, e.ctx, e.s.Inbound(), store.Message{Key: "k", DedupeKey: "again"}); !r[0].Duplicate {
		t.Fatal("purge removed a refreshed dedupe key")
	}
}

func testClosed(t *testing.T, open Opener) {
	e := setup(t, open)
	if err := e.s.Ping(e.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- e.s.Inbound().Wait(e.ctx, 0) }()
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-waitErr; !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Wait across Close: err %v, want ErrClosed", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"ping", func() error { return e.s.Ping(e.ctx) }},
		{"enqueue", func() error { _, err := e.s.Inbound().Enqueue(e.ctx, store.Message{Key: "k"}); return err }},
		{"pending", func() error { _, err := e.s.Outbound().Pending(e.ctx, 0, 1); return err }},
		{"get consumer", func() error {
			_, err := e.s.GetConsumer(e.ctx, store.Identity{Channel: "c", ConsumerID: "u"})
			return err
		}},
		{"list dead letters", func() error { _, err := e.s.DeadLetters().List(e.ctx, 0, 1); return err }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, store.ErrClosed) {
				t.Fatalf("err %v, want ErrClosed", err)
			}
		})
	}
}
