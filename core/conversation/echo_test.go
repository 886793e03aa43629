package conversation

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
)

// consumerEvent is LiveEngage's notification of a consumer's text at seq,
// tagged with externalID when it is not "".
func consumerEvent(conv string, seq int, externalID string) []byte {
	md := ""
	if externalID != "" {
		md = fmt.Sprintf(`,"metadata":[{"type":"ExternalId","id":%q}]`, externalID)
	}
	return fmt.Appendf(nil, `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[
		{"sequence":%d,"conversationId":%q,"dialogId":%q,"originatorMetadata":{"id":"c1","role":"CONSUMER"},
		 "serverTimestamp":1,"event":{"type":"ContentEvent","message":"hi","contentType":"text/plain"}%s}]}}`,
		seq, conv, conv, md)
}

func postSigned(t *testing.T, e *Engine, body []byte) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/webhooks/liveperson", bytes.NewReader(body))
	r.Header.Set(liveperson.HeaderAccountID, "1")
	r.Header.Set(liveperson.HeaderClientID, "c")
	r.Header.Set(liveperson.HeaderSignature, liveperson.Sign("s", body))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w.Code
}

// TestEchoesOfOurPublishesAreRecordedNotQueued: LiveEngage's echo of a
// consumer event leconnect published is recorded at the webhook (AwaitEcho
// finds it) and never queued; a consumer event someone else published is
// queued as any change. An agent event right after our echoes is next in
// line, with no reorder wait; after a gap that is no echo it still waits.
func TestEchoesOfOurPublishesAreRecordedNotQueued(t *testing.T) {
	st := store.NewMemory(store.Options{})
	e := newTestEngine(t, st, &fakeLE{})
	e.opts.ReorderWait = time.Hour
	ctx := context.Background()
	ext := externalID("tg", "m1")

	for seq, tag := range []string{ext, externalID("tg", "m2")} {
		if code := postSigned(t, e, consumerEvent("conv-1", seq, tag)); code != http.StatusOK {
			t.Fatalf("echo answered %d", code)
		}
	}
	if n, _ := st.Outbound().Depth(ctx); n != 0 {
		t.Fatalf("outbound depth %d after two echoes of our publishes; want 0", n)
	}
	if seq, err := st.AwaitEcho(ctx, "conv-1", ext, time.Now()); err != nil || seq != 0 {
		t.Fatalf("AwaitEcho = %d, %v; want the echo's sequence 0", seq, err)
	}
	if got := counterValue(t, e.metrics.echoesTotal); got != 2 {
		t.Fatalf("echoes recorded metric = %v; want 2", got)
	}
	if code := postSigned(t, e, consumerEvent("conv-1", 2, "")); code != http.StatusOK {
		t.Fatalf("untagged consumer event answered %d", code)
	}
	if n, _ := st.Outbound().Depth(ctx); n != 1 {
		t.Fatalf("outbound depth %d after a consumer event leconnect did not publish; want 1", n)
	}

	agent := func(conv string, seq int64) store.Item {
		return store.Item{Key: conv, Sequence: &seq, EnqueuedAt: time.Now()}
	}
	for _, c := range []struct {
		name     string
		conv     string
		last     int
		item     int64
		wantWait bool
	}{
		{"agent right after our echoes of a conversation we opened", "conv-1", -1, 2, false},
		{"agent after a gap that is no echo", "conv-1", -1, 3, true},
		{"no echo recorded in that conversation", "conv-2", -1, 2, true},
	} {
		e.seqMu.Lock()
		e.lastSeq = map[string]int{c.conv: c.last}
		e.seqMu.Unlock()
		_, wait := e.pickOutbound([]store.Item{agent(c.conv, c.item)}, time.Time{})
		if (wait > 0) != c.wantWait {
			t.Errorf("%s: reorder wait %v; want a wait: %v", c.name, wait, c.wantWait)
		}
	}
}
