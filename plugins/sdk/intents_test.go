package sdk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// intentJournal is a core journal with send intents that logs every call,
// in order, beside the platform's.
type intentJournal struct {
	mu       sync.Mutex
	calls    []string
	beginErr error
}

func (j *intentJournal) log(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, s)
}

func (j *intentJournal) LookupSend(context.Context, string) ([]string, bool, error) {
	return nil, false, nil
}
func (j *intentJournal) RecordSend(_ context.Context, key string, _ []string) error {
	j.log("record " + key)
	return nil
}
func (j *intentJournal) BeginSend(_ context.Context, key string) error {
	j.log("begin " + key)
	return j.beginErr
}
func (j *intentJournal) AbandonSend(_ context.Context, key string) error {
	j.log("abandon " + key)
	return nil
}

// platformAdapter sends by calling its platform, which answers with err.
type platformAdapter struct {
	byteEcho
	j   *intentJournal
	err error
}

func (a *platformAdapter) Send(_ context.Context, m sdk.OutboundMessage) (sdk.SendResult, error) {
	a.j.log("platform " + m.IdempotencyKey)
	if a.err != nil {
		return sdk.SendResult{}, a.err
	}
	return sdk.SendResult{MessageIDs: []string{"m1"}}, nil
}

// The intent to send is recorded with the core before the platform is
// called and ended by the record after it; a send the platform refused is
// abandoned, one whose fate is unknown stays begun (in doubt); a send whose
// intent cannot be recorded is not made.
func TestSendIntentsBracketThePlatformCall(t *testing.T) {
	for _, tc := range []struct {
		name      string
		platform  error
		beginErr  error
		want      string
		wantError bool
	}{
		{"sent", nil, nil, "begin k|platform k|record k", false},
		{"refused by the platform", sdk.Permanent(errors.New("chat not found")), nil, "begin k|platform k|abandon k", true},
		{"rate limited", sdk.RetryAfter(time.Second, errors.New("slow down")), nil, "begin k|platform k|abandon k", true},
		{"fate unknown", errors.New("connection reset"), nil, "begin k|platform k", true},
		{"intent not recorded", nil, errors.New("store down"), "begin k", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &intentJournal{beginErr: tc.beginErr}
			c := startOverGRPC(t, &platformAdapter{j: j, err: tc.platform}, sdk.HostOptions{Deliverer: &keptEvents{}, Journal: j})
			_, err := c.Send(context.Background(), sdk.OutboundMessage{To: sdk.Address{ChatID: "c"}, Text: "hi", IdempotencyKey: "k"})
			if (err != nil) != tc.wantError {
				t.Fatalf("Send: %v", err)
			}
			j.mu.Lock()
			got := strings.Join(j.calls, "|")
			j.mu.Unlock()
			if got != tc.want {
				t.Fatalf("calls %q, want %q", got, tc.want)
			}
		})
	}
}
