package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// testDeliveryState: an echo recorded by an ack (or a link) wakes whoever
// awaits it; an unrecorded one is ErrNotFound at the deadline; the last handled sequence
// only grows; unowned conversations are found by participant; all expire.
func testDeliveryState(t *testing.T, open Opener) {
	e := setup(t, open)
	q := e.s.Outbound()
	res, err := q.Enqueue(e.ctx, store.Message{Key: "conv", Payload: []byte("echo")}, store.Message{Key: "conv", Payload: []byte("late")})
	if err != nil {
		t.Fatal(err)
	}
	lease := hold(t, e, q, "conv")
	got := make(chan error, 1)
	var seq int64
	go func() {
		var err error
		seq, err = e.s.AwaitEcho(e.ctx, "conv", "lc1-x", time.Now().Add(time.Minute))
		got <- err
	}()
	if _, err := q.Leases().Ack(e.ctx, lease, res[0].Seq, store.Effects{
		Echoes:  []store.Echo{{ConversationID: "conv", ExternalID: "lc1-x", Sequence: 4}},
		Handled: &store.Handled{ConversationID: "conv", Sequence: 4},
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil || seq != 4 {
		t.Fatalf("AwaitEcho = %d, %v; want 4", seq, err)
	}
	// A link is awaited the same way (a receipt before its send is recorded).
	linked := make(chan store.MessageLink, 1)
	go func() {
		l, _ := e.s.AwaitLink(e.ctx, "tg", "chat", "m-9", time.Now().Add(time.Minute))
		linked <- l
	}()
	if err := e.s.PutLinks(e.ctx, store.MessageLink{Channel: "tg", ChatID: "chat", ChannelMessageID: "m-9", ConversationID: "conv", Sequence: 9}); err != nil {
		t.Fatal(err)
	}
	if l := <-linked; l.Sequence != 9 {
		t.Fatalf("AwaitLink = %+v; want sequence 9", l)
	}
	if _, err := e.s.AwaitLink(e.ctx, "tg", "chat", "m-never", time.Now().Add(20*time.Millisecond)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AwaitLink of no link: %v; want ErrNotFound at the deadline", err)
	}
	if _, err := e.s.AwaitEcho(e.ctx, "conv", "lc1-never", time.Now().Add(20*time.Millisecond)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AwaitEcho of no echo: %v; want ErrNotFound at the deadline", err)
	}
	// An older sequence handled late does not move the mark back.
	if _, err := q.Leases().Ack(e.ctx, lease, res[1].Seq, store.Effects{Handled: &store.Handled{ConversationID: "conv", Sequence: 2}}); err != nil {
		t.Fatal(err)
	}
	if last, found, err := e.s.LastHandled(e.ctx, "conv"); err != nil || !found || last != 4 {
		t.Fatalf("LastHandled = %d, %v, %v; want 4", last, found, err)
	}
	if _, found, err := e.s.LastHandled(e.ctx, "other"); err != nil || found {
		t.Fatalf("LastHandled of another conversation = %v, %v", found, err)
	}
	done := make(chan string, 1)
	go func() {
		conv, _ := e.s.AwaitUnowned(e.ctx, "participant-1", time.Now().Add(time.Minute))
		done <- conv
	}()
	if err := e.s.PutUnowned(e.ctx, "participant-1", "conv-9"); err != nil {
		t.Fatal(err)
	}
	if conv := <-done; conv != "conv-9" {
		t.Fatalf("AwaitUnowned = %q; want conv-9", conv)
	}
	e.clock.Advance(linkTTL)
	if _, found, _ := e.s.LastHandled(e.ctx, "conv"); found {
		t.Fatal("the last handled sequence outlived its TTL")
	}
	if _, err := e.s.AwaitEcho(e.ctx, "conv", "lc1-x", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("echo after its TTL: %v", err)
	}
	if _, err := e.s.AwaitUnowned(e.ctx, "participant-1", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unowned after its TTL: %v", err)
	}
	if n, err := e.s.PurgeExpired(e.ctx, 100); err != nil || n != 4 {
		t.Fatalf("PurgeExpired = %d, %v; want the echo, the mark, the unowned conversation and the link", n, err)
	}
}

// testRecordEchoes: echoes recorded without an item wake AwaitEcho and are
// found by sequence: EchoedThrough runs over consecutive ones only, per
// conversation, and not past their TTL; recording one again at another
// sequence moves it; purging forgets it by sequence too.
func testRecordEchoes(t *testing.T, open Opener) {
	e := setup(t, open)
	got := make(chan int64, 1)
	go func() {
		seq, _ := e.s.AwaitEcho(e.ctx, "conv", "lc1-b", time.Now().Add(time.Minute))
		got <- seq
	}()
	if err := e.s.RecordEchoes(e.ctx,
		store.Echo{ConversationID: "conv", ExternalID: "lc1-a", Sequence: 3},
		store.Echo{ConversationID: "conv", ExternalID: "lc1-b", Sequence: 4},
		store.Echo{ConversationID: "conv", ExternalID: "lc1-d", Sequence: 6},
		store.Echo{ConversationID: "other", ExternalID: "lc1-c", Sequence: 5},
	); err != nil {
		t.Fatal(err)
	}
	if seq := <-got; seq != 4 {
		t.Fatalf("AwaitEcho after RecordEchoes = %d; want 4", seq)
	}
	for _, c := range []struct {
		conv        string
		after, want int64
	}{
		{"conv", 2, 4},   // 3 and 4 echoed, 5 is not (it is another conversation's)
		{"conv", 3, 4},   // from inside the run
		{"conv", 4, 4},   // nothing echoed at 5
		{"conv", 5, 6},   // 6 alone
		{"conv", 6, 6},   // past the last
		{"conv", -1, -1}, // 0 is not echoed
		{"other", 4, 5},
		{"none", 0, 0},
	} {
		if got, err := e.s.EchoedThrough(e.ctx, c.conv, c.after); err != nil || got != c.want {
			t.Errorf("EchoedThrough(%s, %d) = %d, %v; want %d", c.conv, c.after, got, err, c.want)
		}
	}
	// The same echo recorded again at another sequence (LiveEngage does not
	// do this; the index must stay true if it did) leaves 4 unechoed.
	if err := e.s.RecordEchoes(e.ctx, store.Echo{ConversationID: "conv", ExternalID: "lc1-b", Sequence: 5}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.EchoedThrough(e.ctx, "conv", 2); err != nil || got != 3 {
		t.Fatalf("EchoedThrough after moving an echo = %d, %v; want 3", got, err)
	}
	if got, err := e.s.EchoedThrough(e.ctx, "conv", 3); err != nil || got != 3 {
		t.Fatalf("EchoedThrough(conv, 3) after moving an echo = %d, %v; want 3", got, err)
	}
	if got, err := e.s.EchoedThrough(e.ctx, "conv", 4); err != nil || got != 6 {
		t.Fatalf("EchoedThrough(conv, 4) after moving an echo = %d, %v; want 6", got, err)
	}
	if err := e.s.RecordEchoes(e.ctx, store.Echo{ConversationID: "", ExternalID: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("RecordEchoes without a conversation: %v; want ErrInvalid", err)
	}
	e.clock.Advance(linkTTL)
	if got, err := e.s.EchoedThrough(e.ctx, "conv", 2); err != nil || got != 2 {
		t.Fatalf("EchoedThrough past the echoes' TTL = %d, %v; want 2", got, err)
	}
	if n, err := e.s.PurgeExpired(e.ctx, 100); err != nil || n != 4 {
		t.Fatalf("PurgeExpired = %d, %v; want the four echoes", n, err)
	}
	// Recorded again after the purge: found by sequence again, and nothing
	// left of the purged ones.
	if err := e.s.RecordEchoes(e.ctx, store.Echo{ConversationID: "conv", ExternalID: "lc1-a", Sequence: 3}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.EchoedThrough(e.ctx, "conv", 2); err != nil || got != 3 {
		t.Fatalf("EchoedThrough after the purge = %d, %v; want 3", got, err)
	}
}
