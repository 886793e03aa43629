package slack

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// ResolveSend implements sdk.SendResolver: every message this adapter
// posts carries its send's idempotency key and part in Slack message
// metadata, so a send in doubt is found in conversations.history. Found
// whole, its timestamps answer the Send; not found at all, it is sent.
// Sends with a file (file shares carry no metadata), or in a thread (they
// are not in the channel's history), cannot be looked up:
// sdk.ErrCannotResolve, and the channel's policy decides; so does a send
// found in part.
func (a *Adapter) ResolveSend(ctx context.Context, msg sdk.OutboundMessage, begun time.Time) (sdk.SendResult, bool, error) {
	cfg, api, _, _ := a.snapshot()
	if cfg == nil {
		return sdk.SendResult{}, false, sdk.NotConnected(fmt.Errorf("slack: ResolveSend before Configure"))
	}
	parts, err := plan(msg)
	if err != nil {
		return sdk.SendResult{}, false, sdk.Permanent(err)
	}
	if msg.Media != nil || msg.To.ThreadID != "" || msg.IdempotencyKey == "" {
		return sdk.SendResult{}, false, fmt.Errorf("slack: a send with a file or in a thread: %w", sdk.ErrCannotResolve)
	}
	// A minute of clock skew between here and Slack is allowed for.
	since := begun.Add(-time.Minute)
	var res struct {
		envelope
		Messages []struct {
			TS       string `json:"ts"`
			Metadata *struct {
				EventType    string `json:"event_type"`
				EventPayload struct {
					Key  string `json:"key"`
					Part int    `json:"part"`
				} `json:"event_payload"`
			} `json:"metadata"`
		} `json:"messages"`
	}
	// Form-encoded: conversations.history takes no JSON body.
	params := url.Values{"channel": {msg.To.ChatID}, "oldest": {fmt.Sprintf("%d.%06d", since.Unix(), since.Nanosecond()/1000)},
		"include_all_metadata": {"true"}, "limit": {"200"}}
	if err := api.callForm(ctx, "conversations.history", api.token, params, &res); err != nil {
		return sdk.SendResult{}, false, classify(err)
	}
	ts := make([]string, len(parts))
	found := 0
	for _, m := range res.Messages {
		md := m.Metadata
		if md == nil || md.EventType != sendEventType || md.EventPayload.Key != msg.IdempotencyKey {
			continue
		}
		if p := md.EventPayload.Part; p >= 0 && p < len(ts) && ts[p] == "" {
			ts[p] = m.TS
			found++
		}
	}
	switch found {
	case 0:
		return sdk.SendResult{}, false, nil
	case len(parts):
		return sdk.SendResult{MessageIDs: ts}, true, nil
	}
	return sdk.SendResult{}, false, fmt.Errorf("slack: %d of the send's %d parts found (%s…): %w", found, len(parts), strconv.Quote(msg.IdempotencyKey), sdk.ErrCannotResolve)
}
