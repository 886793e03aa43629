package conversation

import (
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// The reorder window for a gap counts from the item's arrival, this
// process's start, or (after a takeover) notBefore, whichever is latest:
// a conversation taken over after its items waited, and after the first
// waited for the dead holder's send, still gives a late delivery from
// LiveEngage the whole window.
func TestReorderWindowCountsFromATakeover(t *testing.T) {
	e := newTestEngine(t, store.NewMemory(store.Options{}), &fakeLE{})
	e.opts.ReorderWait = 8 * time.Second
	e.started = time.Now().Add(-time.Hour)
	e.seqMu.Lock()
	e.lastSeq = map[string]int{"conv-1": 14}
	e.seqMu.Unlock()
	seq := int64(16) // 15 is missing
	old := []store.Item{{Key: "conv-1", Sequence: &seq, EnqueuedAt: time.Now().Add(-time.Minute)}}
	if _, wait := e.pickOutbound(old, time.Time{}); wait != 0 {
		t.Fatalf("an item that waited a minute, no takeover: wait %v; want none (its window is over)", wait)
	}
	if _, wait := e.pickOutbound(old, time.Now()); wait < 7*time.Second || wait > 8*time.Second {
		t.Fatalf("the same item just taken over: wait %v; want the whole 8s window", wait)
	}
}
