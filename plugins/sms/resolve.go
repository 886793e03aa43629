package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// sentFinder is a provider that can look a sent message up.
type sentFinder interface {
	// findSent returns the id of an outbound message to `to` with this
	// body created at or after since, if the provider has one.
	findSent(ctx context.Context, to, body string, since time.Time) (id string, found bool, err error)
}

// ResolveSend implements sdk.SendResolver: a Send begun at begun whose
// outcome was never recorded (the adapter died waiting for Twilio's
// answer) is looked up in Twilio's Messages list, piece by piece after
// those this adapter recorded as sent. Vonage's SMS API has no lookup:
// sdk.ErrCannotResolve, and the channel's policy decides.
func (a *Adapter) ResolveSend(ctx context.Context, msg sdk.OutboundMessage, begun time.Time) (sdk.SendResult, bool, error) {
	cfg, prov, _, st, _ := a.snapshot()
	if cfg == nil || st == nil {
		return sdk.SendResult{}, false, sdk.NotConnected(fmt.Errorf("sms: not started"))
	}
	finder, ok := prov.(sentFinder)
	if !ok {
		return sdk.SendResult{}, false, fmt.Errorf("sms: %s: %w", cfg.provider, sdk.ErrCannotResolve)
	}
	to, key := msg.To.ChatID, msg.IdempotencyKey
	unlock := a.lockNumber(to)
	defer unlock()
	text := msg.Text
	if choices := append(append([]sdk.Choice(nil), msg.Buttons...), msg.QuickReplies...); len(choices) > 0 {
		text = withOptions(text, choices)
	}
	pieces := splitText(text, cfg.maxText)
	if len(pieces) == 0 {
		pieces = []string{""} // media alone
	}
	var done [][]string
	st.read(func(d *stateData) { done = append([][]string(nil), d.Progress[key].Parts...) })
	if len(done) < len(pieces) {
		// The piece in flight when the adapter died. A clock skew of a
		// minute between here and Twilio is allowed for.
		id, found, err := finder.findSent(ctx, to, pieces[len(done)], begun.Add(-time.Minute))
		if err != nil {
			return sdk.SendResult{}, false, err
		}
		if !found {
			return sdk.SendResult{}, false, nil
		}
		done = append(done, []string{id})
		if err := st.update(func(d *stateData) error {
			d.Progress[key] = progress{Parts: done, At: a.now()}
			return nil
		}); err != nil {
			return sdk.SendResult{}, false, fmt.Errorf("sms: progress not saved: %w", err)
		}
		if len(done) < len(pieces) {
			return sdk.SendResult{}, false, nil // Send goes on with the pieces after it
		}
	}
	var ids []string
	for _, p := range done {
		ids = append(ids, p...)
	}
	return sdk.SendResult{MessageIDs: ids}, true, nil
}

// findSent pages through nothing: the newest 50 messages to `to` sent on
// or after since's day (Twilio filters by day) are enough for a send begun
// minutes ago.
func (t *twilio) findSent(ctx context.Context, to, body string, since time.Time) (string, bool, error) {
	q := url.Values{"To": {to}, "DateSent>": {since.UTC().Format(time.DateOnly)}, "PageSize": {"50"}}
	if t.from != "" {
		q.Set("From", t.from)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	endpoint := t.base + "/2010-04-01/Accounts/" + url.PathEscape(t.accountSID) + "/Messages.json?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return "", false, fmt.Errorf("twilio: build request: %w", err)
	}
	req.SetBasicAuth(t.accountSID, t.authToken)
	req.Header.Set("Accept", "application/json")
	res, err := t.http.Do(req)
	if err != nil {
		return "", false, fmt.Errorf("twilio: list messages: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return "", false, fmt.Errorf("twilio: read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("twilio: list messages: HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(raw)))
	}
	var page struct {
		Messages []struct {
			SID         string `json:"sid"`
			Body        string `json:"body"`
			Direction   string `json:"direction"`
			DateCreated string `json:"date_created"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return "", false, fmt.Errorf("twilio: list messages: %w", err)
	}
	for _, m := range page.Messages {
		created, err := time.Parse(time.RFC1123Z, m.DateCreated)
		if err != nil || created.Before(since) || m.Direction != "outbound-api" || m.Body != body {
			continue
		}
		return m.SID, true, nil
	}
	return "", false, nil
}
