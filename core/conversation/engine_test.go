package conversation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// fakeLE implements LiveEngage in memory.
type fakeLE struct {
	mu        sync.Mutex
	convs     int
	published []string // "conv:text"
	closeNext bool     // the next publish answers "conversation closed"
	fail      error    // every call fails with it while set
	csat      []int
}

func (f *fakeLE) CreateConversation(_ context.Context, req liveperson.ConversationRequest) (liveperson.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return liveperson.Conversation{}, f.fail
	}
	f.convs++
	return liveperson.Conversation{ExtConsumerID: req.ExtConsumerID, ConversationID: fmt.Sprintf("conv-%d", f.convs)}, nil
}

func (f *fakeLE) PublishText(_ context.Context, c liveperson.Conversation, text string, _ ...liveperson.Metadata) (liveperson.PublishResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.fail != nil:
		return liveperson.PublishResult{}, f.fail
	case f.closeNext:
		f.closeNext = false
		return liveperson.PublishResult{}, &liveperson.APIError{Op: "publish_text", Kind: liveperson.ErrConversationClosed}
	}
	f.published = append(f.published, c.ConversationID+":"+text)
	return liveperson.PublishResult{Sequence: len(f.published)}, nil
}

func (f *fakeLE) PublishFile(ctx context.Context, c liveperson.Conversation, file liveperson.File, md ...liveperson.Metadata) (liveperson.PublishResult, error) {
	return f.PublishText(ctx, c, "[file "+file.FileType+"] "+file.Caption, md...)
}
func (f *fakeLE) SetChatState(context.Context, liveperson.Conversation, liveperson.ChatState) error {
	return nil
}
func (f *fakeLE) SendAcceptStatus(context.Context, liveperson.Conversation, liveperson.AcceptStatus, []int, ...liveperson.Metadata) error {
	return nil
}
func (f *fakeLE) CloseConversation(context.Context, liveperson.Conversation) error { return nil }
func (f *fakeLE) SubmitCSAT(_ context.Context, _ liveperson.Conversation, s liveperson.CSAT) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.csat = append(f.csat, s.Rate)
	return nil
}
func (f *fakeLE) DownloadFile(context.Context, liveperson.Conversation, string) (liveperson.DownloadedFile, error) {
	return liveperson.DownloadedFile{}, errors.New("not in this fake")
}

func (f *fakeLE) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.published...)
}

type noAdapters struct{}

func (noAdapters) Adapter(string) (Adapter, bool) { return nil, false }

func newTestEngine(t *testing.T, st store.Store, le LiveEngage) *Engine {
	t.Helper()
	v, err := liveperson.NewVerifier("1", "c", "s")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{
		Store: st, LiveEngage: le, Adapters: noAdapters{}, Verifier: v, Logger: hclog.NewNullLogger(),
		Settings: func(ch string) (ChannelSettings, bool) {
			return ChannelSettings{EndKeyword: "/end", CSATPrompt: "rate us"}, ch == "tg"
		},
		RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond, EchoWait: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func run(t *testing.T, e *Engine) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func msg(id, user, text string) sdk.Event {
	return sdk.Event{ID: id, Address: sdk.Address{ChatID: user}, Consumer: sdk.Consumer{ID: user}, Message: &sdk.Message{ID: id, Text: text}}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestInboundOrderDedupeAndReopen(t *testing.T) {
	st := store.NewMemory(store.Options{})
	le := &fakeLE{}
	e := newTestEngine(t, st, le)
	ctx := context.Background()

	// Two consumers interleaved, one platform retry (same event id).
	for i := 0; i < 5; i++ {
		for _, u := range []string{"ann", "bob"} {
			if err := e.Accept(ctx, "tg", []sdk.Event{msg(fmt.Sprintf("%s-%d", u, i), u, fmt.Sprintf("%s %d", u, i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Accept(ctx, "tg", []sdk.Event{msg("ann-2", "ann", "ann 2 (retried by the platform)")}); err != nil {
		t.Fatal(err)
	}
	if err := e.Accept(ctx, "unknown", []sdk.Event{msg("x", "x", "x")}); sdk.KindOf(err) != sdk.KindPermanent {
		t.Fatalf("Accept for an unconfigured channel = %v; want permanent", err)
	}
	run(t, e)
	waitUntil(t, "ten publishes", func() bool { return len(le.texts()) == 10 })

	perConv := map[string][]string{}
	for _, p := range le.texts() {
		conv, text, _ := strings.Cut(p, ":")
		perConv[conv] = append(perConv[conv], text)
	}
	if len(perConv) != 2 {
		t.Fatalf("conversations = %v; want one per consumer", perConv)
	}
	for _, texts := range perConv {
		user := strings.Fields(texts[0])[0]
		for i, text := range texts {
			if text != fmt.Sprintf("%s %d", user, i) {
				t.Fatalf("%s's messages = %q; want them once each, in order", user, texts)
			}
		}
	}

	// LiveEngage closed the conversation meanwhile: a new one is opened and
	// the message published there.
	le.mu.Lock()
	le.closeNext = true
	le.mu.Unlock()
	if err := e.Accept(ctx, "tg", []sdk.Event{msg("ann-9", "ann", "after the close")}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the publish after the close", func() bool { return len(le.texts()) == 11 })
	if last := le.texts()[10]; last != "conv-3:after the close" {
		t.Fatalf("after a closed conversation: %q; want it in a new conversation", last)
	}
}

// An event attempted before a crash is not published again when LiveEngage's
// echo shows it landed.
func TestUncertainPublishSettledByEcho(t *testing.T) {
	st := store.NewMemory(store.Options{})
	le := &fakeLE{}
	e := newTestEngine(t, st, le)
	ctx := context.Background()
	ev := msg("m1", "ann", "hello")
	if err := e.Accept(ctx, "tg", []sdk.Event{ev}); err != nil {
		t.Fatal(err)
	}
	// As if a previous run had opened the conversation, marked the item
	// attempted, published it and died before recording that.
	prev, err := st.Inbound().Leases().Claim(ctx, "previous-run", 1, 1, time.Minute)
	if err != nil || len(prev) != 1 {
		t.Fatalf("claim = %+v, %v", prev, err)
	}
	if err := st.Inbound().Leases().MarkAttempted(ctx, prev[0].Lease, prev[0].Items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := st.Inbound().Leases().Release(ctx, prev[0].Lease); err != nil { // it died
		t.Fatal(err)
	}
	id := store.Identity{Channel: "tg", ConsumerID: "ann"}
	if _, err := st.PutConsumer(ctx, store.Consumer{Identity: id, ExtConsumerID: extConsumerID("tg", "ann"),
		Address: store.Address{ChatID: "ann"}, Conversation: store.Conversation{ID: "conv-0", State: store.StateOpen}}); err != nil {
		t.Fatal(err)
	}
	// LiveEngage's echo of that publish was recorded (with its ack).
	if _, err := st.Outbound().Enqueue(ctx, store.Message{Key: "conv-0", Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	echo, err := st.Outbound().Leases().Claim(ctx, "previous-run", 1, 1, time.Minute)
	if err != nil || len(echo) != 1 {
		t.Fatalf("claim = %+v, %v", echo, err)
	}
	if _, err := st.Outbound().Leases().Ack(ctx, echo[0].Lease, echo[0].Items[0].Seq, store.Effects{
		Echoes: []store.Echo{{ConversationID: "conv-0", ExternalID: externalID("tg", "m1"), Sequence: 4}}}); err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitUntil(t, "the item to be done", func() bool { n, _ := st.Inbound().Depth(ctx); return n == 0 })
	if got := le.texts(); len(got) != 0 {
		t.Fatalf("published again although the echo showed it landed: %q", got)
	}
	if l, err := st.LinkByChannelMessage(ctx, "tg", "ann", "m1"); err != nil || l.Sequence != 4 {
		t.Fatalf("link = %+v, %v; want the echo's sequence", l, err)
	}

	// Without an echo, it is published again once EchoWait has passed.
	if err := e.Accept(ctx, "tg", []sdk.Event{msg("m2", "ann", "second")}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the second message", func() bool { return len(le.texts()) == 1 })
}

func TestCSATAnswerAndEndKeyword(t *testing.T) {
	st := store.NewMemory(store.Options{})
	le := &fakeLE{}
	e := newTestEngine(t, st, le)
	ctx := context.Background()
	id := store.Identity{Channel: "tg", ConsumerID: "ann"}
	if _, err := st.PutConsumer(ctx, store.Consumer{Identity: id, ExtConsumerID: "x", Address: store.Address{ChatID: "ann"},
		Conversation: store.Conversation{ID: "conv-0", State: store.StateCSATPending}}); err != nil {
		t.Fatal(err)
	}
	run(t, e)
	for _, ev := range []sdk.Event{msg("a", "ann", " 4 "), msg("b", "ann", "hi again"), msg("c", "ann", "/END")} {
		if err := e.Accept(ctx, "tg", []sdk.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "all handled", func() bool { n, _ := st.Inbound().Depth(ctx); return n == 0 })
	if fmt.Sprint(le.csat) != "[4]" {
		t.Fatalf("csat = %v; want [4]", le.csat)
	}
	if got := le.texts(); len(got) != 1 || got[0] != "conv-1:hi again" {
		t.Fatalf("published = %q; want only the message after the CSAT answer, in a new conversation", got)
	}
	c, _ := st.GetConsumer(ctx, id)
	if c.Conversation.State != store.StateClosed {
		t.Fatalf("state after /end = %q; want closed", c.Conversation.State)
	}
}

// Transient failures keep the item (retried), nothing is dead-lettered;
// once LiveEngage is back the message goes through once.
func TestOutageIsRetriedNotDeadLettered(t *testing.T) {
	st := store.NewMemory(store.Options{})
	le := &fakeLE{fail: &liveperson.APIError{Op: "conversation", Kind: liveperson.ErrServerError}}
	e := newTestEngine(t, st, le)
	ctx := context.Background()
	run(t, e)
	if err := e.Accept(ctx, "tg", []sdk.Event{msg("m1", "ann", "during the outage")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // some failed attempts
	le.mu.Lock()
	le.fail = nil
	le.mu.Unlock()
	waitUntil(t, "the publish after the outage", func() bool { return len(le.texts()) == 1 })
	if dl, _ := st.DeadLetters().List(ctx, 0, 10); len(dl) != 0 {
		t.Fatalf("dead letters = %+v", dl)
	}
	// A request LiveEngage can never accept is dead-lettered instead.
	le.mu.Lock()
	le.fail = &liveperson.APIError{Op: "publish_text", Kind: liveperson.ErrBadRequest}
	le.mu.Unlock()
	if err := e.Accept(ctx, "tg", []sdk.Event{msg("m2", "ann", "rejected")}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the dead letter", func() bool { dl, _ := st.DeadLetters().List(ctx, 0, 10); return len(dl) == 1 })
}
