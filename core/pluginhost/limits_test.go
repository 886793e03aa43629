package pluginhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

func textEvent(id, text string) sdk.Event {
	return sdk.Event{ID: id, Address: sdk.Address{ChatID: "c"}, Consumer: sdk.Consumer{ID: "u"}, Message: &sdk.Message{Text: text}}
}

func mediaEvent(id string, n int) sdk.Event {
	e := textEvent(id, "")
	e.Message.Media = []sdk.Media{{Kind: sdk.MediaImage, Data: make([]byte, n)}}
	return e
}

func TestBoundedInboxRefusesCallsOverABoundWhole(t *testing.T) {
	limits := Limits{MaxTextChars: 10, MaxMediaBytes: 100, MaxBatchEvents: 3, MaxInFlightBytes: 2000}
	tests := []struct {
		name      string
		events    []sdk.Event
		wantLimit string
		wantKind  sdk.ErrorKind
	}{
		{"within every bound", []sdk.Event{textEvent("a", "0123456789"), mediaEvent("b", 100)}, "", 0},
		{"text over, counted in UTF-16 as LiveEngage does", []sdk.Event{textEvent("a", "ok"), textEvent("b", "🚚🚚🚚🚚🚚x")}, sdk.LimitTextChars, sdk.KindPermanent},
		{"media over", []sdk.Event{mediaEvent("a", 101)}, sdk.LimitMediaBytes, sdk.KindPermanent},
		{"too many events", []sdk.Event{textEvent("a", "1"), textEvent("b", "2"), textEvent("c", "3"), textEvent("d", "4")}, sdk.LimitBatchEvents, sdk.KindPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			var counted []string
			b := newBoundedInbox("ch", limits, rec, func(_, limit string) { counted = append(counted, limit) })
			err := b.Deliver(context.Background(), tt.events)
			if tt.wantLimit == "" {
				if err != nil || len(rec.events) != len(tt.events) {
					t.Fatalf("Deliver = %v, stored %d; want all stored", err, len(rec.events))
				}
				return
			}
			var le *sdk.LimitError
			if !errors.As(err, &le) || le.Limit != tt.wantLimit || sdk.KindOf(err) != tt.wantKind {
				t.Fatalf("Deliver = %v; want %s refused (%v)", err, tt.wantLimit, tt.wantKind)
			}
			if len(rec.events) != 0 {
				t.Fatalf("%d events stored from a refused call", len(rec.events))
			}
			if len(counted) != 1 || counted[0] != tt.wantLimit {
				t.Fatalf("counted %v", counted)
			}
		})
	}
}

// blockingInbox holds every Deliver until released.
type blockingInbox struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingInbox) Deliver(context.Context, []sdk.Event) error {
	b.entered <- struct{}{}
	<-b.release
	return nil
}

func TestBoundedInboxBoundsTheBytesBeingStored(t *testing.T) {
	next := &blockingInbox{entered: make(chan struct{}), release: make(chan struct{})}
	b := newBoundedInbox("ch", Limits{MaxTextChars: 5000, MaxMediaBytes: 1000, MaxBatchEvents: 10, MaxInFlightBytes: 2000}, next, nil)
	first := make(chan error)
	go func() { first <- b.Deliver(context.Background(), []sdk.Event{mediaEvent("a", 1000)}) }()
	<-next.entered
	// A second call that would take the bytes in flight past the bound is
	// refused, to be retried, while the first is being stored.
	err := b.Deliver(context.Background(), []sdk.Event{mediaEvent("b", 1000)})
	var le *sdk.LimitError
	if !errors.As(err, &le) || le.Limit != sdk.LimitInFlightBytes || sdk.KindOf(err) != sdk.KindRetryAfter {
		t.Fatalf("second Deliver = %v; want retry after, over %s", err, sdk.LimitInFlightBytes)
	}
	if d, _ := sdk.RetryDelay(err); d != time.Second || !strings.Contains(err.Error(), "max_in_flight_bytes") {
		t.Fatalf("second Deliver = %v", err)
	}
	close(next.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Once the first is stored, its bytes are free again.
	go func() { <-next.entered }()
	if err := b.Deliver(context.Background(), []sdk.Event{mediaEvent("c", 1000)}); err != nil {
		t.Fatalf("Deliver after the first was stored = %v", err)
	}
}
