package pluginhost

import (
	"context"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/peer"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// lookupJournal is a send journal that notes who looked a key up: the core
// in process, or the adapter over the Host service (a gRPC peer).
type lookupJournal struct {
	mu      sync.Mutex
	sends   map[string][]string
	lookups []string // "core" or "adapter", in order
	records int
}

func (j *lookupJournal) LookupSend(ctx context.Context, key string) ([]string, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	who := "core"
	if _, remote := peer.FromContext(ctx); remote {
		who = "adapter"
	}
	j.lookups = append(j.lookups, who)
	ids, ok := j.sends[key]
	return ids, ok, nil
}

func (j *lookupJournal) RecordSend(_ context.Context, key string, ids []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sends[key] = ids
	j.records++
	return nil
}

// The core looks a Send up in the journal it offers the adapter, in
// process: a repeat is answered without reaching the adapter, and a first
// send tells the adapter not to ask back over the Host service (it still
// records the send there).
func TestSendIsLookedUpInTheCoresJournal(t *testing.T) {
	j := &lookupJournal{sends: map[string][]string{}}
	opts, _ := testOptions(t)
	opts.Journal = func(string) sdk.SendJournal { return j }
	ch := launch(t, echoSpec("journaled"), opts, &recorder{}, "")
	ctx := context.Background()
	if err := ch.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	msg := sdk.OutboundMessage{IdempotencyKey: "lc:conv:1", To: sdk.Address{ChatID: "c1"}, Text: "once"}
	first, err := ch.Send(ctx, msg)
	if err != nil || len(first.MessageIDs) != 1 {
		t.Fatalf("Send = %+v, %v", first, err)
	}
	again, err := ch.Send(ctx, msg)
	if err != nil || !slices.Equal(again.MessageIDs, first.MessageIDs) {
		t.Fatalf("repeated Send = %+v, %v; want %v", again, err, first.MessageIDs)
	}
	j.mu.Lock()
	lookups, records := slices.Clone(j.lookups), j.records
	j.mu.Unlock()
	if !slices.Equal(lookups, []string{"core", "core"}) || records != 1 {
		t.Fatalf("journal lookups %v, records %d; want [core core] and 1", lookups, records)
	}
	sends := 0
	for _, a := range sentActions(t, ch) {
		if a.Kind == "send" {
			sends++
		}
	}
	if sends != 1 {
		t.Fatalf("the adapter sent %d times, want 1", sends)
	}
}
