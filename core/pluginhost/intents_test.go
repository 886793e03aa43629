package pluginhost

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// inDoubtLog keeps what Options.InDoubt was told.
type inDoubtLog struct {
	mu       sync.Mutex
	outcomes []string
}

func (l *inDoubtLog) told(_, key, outcome string, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcomes = append(l.outcomes, key+":"+outcome)
}

func (l *inDoubtLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.outcomes...)
}

// A send's intent is recorded before the adapter gets it and replaced by
// its result; a send the platform refused is not left in doubt; one found
// in doubt (begun, never recorded) follows the channel's policy, and the
// host is told.
func TestSendIntents(t *testing.T) {
	st := store.NewMemory(store.Options{})
	ctx := context.Background()
	state := func(channel, key string) store.SendState {
		t.Helper()
		s, err := st.SendState(ctx, channel, key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, skip := range []bool{false, true} {
		channel := map[bool]string{false: "resend", true: "skip"}[skip]
		t.Run(channel, func(t *testing.T) {
			log := &inDoubtLog{}
			opts, _ := testOptions(t)
			opts.Journal = func(ch string) sdk.SendJournal { return store.ChannelJournal{Journal: st, Channel: ch} }
			opts.InDoubt = log.told
			spec := echoSpec(channel)
			spec.SkipInDoubt = skip
			ch := launch(t, spec, opts, &recorder{}, "")
			if err := ch.WaitStarted(ctx); err != nil {
				t.Fatal(err)
			}
			to := sdk.Address{ChatID: "c1"}
			if _, err := ch.Send(ctx, sdk.OutboundMessage{To: to, Text: "hello", IdempotencyKey: "sent"}); err != nil {
				t.Fatal(err)
			}
			if s := state(channel, "sent"); !s.Sent || s.InDoubt {
				t.Fatalf("a send made: %+v", s)
			}
			for _, text := range []string{"fail:permanent", "fail:retry"} {
				if _, err := ch.Send(ctx, sdk.OutboundMessage{To: to, Text: text, IdempotencyKey: text}); err == nil {
					t.Fatalf("%s: no error", text)
				}
				if s := state(channel, text); s.Sent || s.InDoubt {
					t.Fatalf("a send the platform refused (%s) left as %+v", text, s)
				}
			}

			if err := st.BeginSend(ctx, channel, "doubt"); err != nil {
				t.Fatal(err)
			}
			res, err := ch.Send(ctx, sdk.OutboundMessage{To: to, Text: "maybe sent before", IdempotencyKey: "doubt"})
			switch {
			case skip && !errors.Is(err, sdk.ErrSendSkipped):
				t.Fatalf("skip policy: %v, %+v; want ErrSendSkipped", err, res)
			case !skip && (err != nil || len(res.MessageIDs) != 1):
				t.Fatalf("resend policy: %v, %+v; want it sent", err, res)
			}
			want := map[bool]string{false: "doubt:resent", true: "doubt:skipped"}[skip]
			if got := log.all(); len(got) != 1 || got[0] != want {
				t.Fatalf("the host was told %q, want [%s]", got, want)
			}
		})
	}
}
