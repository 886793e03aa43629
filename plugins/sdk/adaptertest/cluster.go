package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// sharedJournal plays the core's send journal, which every instance of a
// cluster reaches through its store. recordsDown makes RecordSend fail, as
// it does for an adapter whose core just died.
type sharedJournal struct {
	mu          sync.Mutex
	sends       map[string][]string
	recordsDown atomic.Bool
}

func (j *sharedJournal) LookupSend(_ context.Context, key string) ([]string, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ids, ok := j.sends[key]
	return slices.Clone(ids), ok, nil
}

func (j *sharedJournal) RecordSend(_ context.Context, key string, ids []string) error {
	if j.recordsDown.Load() {
		return errors.New("the core is gone")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.sends == nil {
		j.sends = map[string][]string{}
	}
	j.sends[key] = slices.Clone(ids)
	return nil
}

func (j *sharedJournal) recorded(key string) bool {
	_, ok, _ := j.LookupSend(context.Background(), key)
	return ok
}

// testSendAcrossInstances: two adapter processes of two instances (each
// its own state dir) share the core's journal: a Send one made is answered
// from the journal when the other repeats it; a send the first could not
// record with its core (gone) is kept locally and handed to the journal
// when that instance starts again.
func testSendAcrossInstances(t *testing.T, newAdapter func() sdk.Adapter, opts Options) {
	ctx := context.Background()
	journal := &sharedJournal{}
	hook := httptest.NewServer(nil)
	t.Cleanup(hook.Close)
	start := func(stateDir string) *sdk.AdapterClient {
		c := connect(t, newAdapter())
		if fe, err := c.Configure(ctx, "conformance", opts.Config); err != nil || len(fe) > 0 {
			t.Fatalf("Configure = %v, %v", fe, err)
		}
		if err := c.Start(ctx, sdk.HostOptions{Deliverer: &recordingHost{}, WebhookURL: hook.URL + "/channels/conformance/webhook",
			StateDir: stateDir, Journal: journal}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		return c
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b := start(dirA), start(dirB)
	t.Cleanup(func() { _ = b.Close(ctx) })

	msg := sdk.OutboundMessage{IdempotencyKey: "conformance-cluster-1", To: opts.Address, Text: "sent by one instance, repeated by another"}
	first, err := a.Send(ctx, msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !journal.recorded(msg.IdempotencyKey) {
		t.Fatal("the send was not recorded in the core's journal")
	}
	again, err := b.Send(ctx, msg)
	if err != nil {
		t.Fatalf("Send repeated by another instance: %v", err)
	}
	if fmt.Sprint(again.MessageIDs) != fmt.Sprint(first.MessageIDs) {
		t.Fatalf("Send repeated by another instance sent again: ids %v, then %v", first.MessageIDs, again.MessageIDs)
	}

	// The core of instance A dies: its adapter's last send cannot be
	// recorded with it and goes to the local journal.
	journal.recordsDown.Store(true)
	orphan := sdk.OutboundMessage{IdempotencyKey: "conformance-cluster-2", To: opts.Address, Text: "sent while the core was dying"}
	sent, err := a.Send(ctx, orphan)
	if err != nil {
		t.Fatalf("Send while the core's journal is down: %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	journal.recordsDown.Store(false)
	if journal.recorded(orphan.IdempotencyKey) {
		t.Fatal("a failed RecordSend was recorded")
	}
	a2 := start(dirA) // instance A comes back
	t.Cleanup(func() { _ = a2.Close(ctx) })
	if !journal.recorded(orphan.IdempotencyKey) {
		t.Fatal("the restarted adapter did not hand its locally journaled send to the core")
	}
	repeated, err := b.Send(ctx, orphan)
	if err != nil {
		t.Fatalf("Send repeated by another instance: %v", err)
	}
	if fmt.Sprint(repeated.MessageIDs) != fmt.Sprint(sent.MessageIDs) {
		t.Fatalf("a send journaled locally was sent again by another instance: ids %v, then %v", sent.MessageIDs, repeated.MessageIDs)
	}
}
