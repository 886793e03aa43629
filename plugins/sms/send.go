package sms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// ErrOptedOut is why a Send to a number that sent STOP is refused (wrapped
// in sdk.Permanent): carriers forbid messaging it until it sends START.
var ErrOptedOut = errors.New("the recipient opted out of SMS (STOP); nothing is sent until they send START")

// Send delivers one agent message as one or more SMS/MMS:
//   - quick replies and buttons become numbered options under the text; the
//     number's next answer "2" (or the option's text) comes back as that
//     choice. Each agent message replaces the options offered before, and a
//     message without options withdraws them (so "1" answers a CSAT
//     question, not an old menu);
//   - an image is stored and offered to the provider as a signed, expiring
//     URL under the webhook: attached as MMS (Twilio), or as a link (Vonage);
//   - texts over max_text_length are split at paragraph, line, sentence or
//     word boundaries, and the ids of every piece are returned. A retried
//     Send resumes after the pieces already sent.
func (a *Adapter) Send(ctx context.Context, msg sdk.OutboundMessage) (sdk.SendResult, error) {
	cfg, prov, host, st, media := a.snapshot()
	if cfg == nil || host == nil {
		return sdk.SendResult{}, sdk.NotConnected(errors.New("sms: not started"))
	}
	to := msg.To.ChatID
	if !e164Pattern.MatchString(to) {
		return sdk.SendResult{}, sdk.Permanent(fmt.Errorf("sms: address %q is not a phone number in E.164", to))
	}
	unlock := a.lockNumber(to)
	defer unlock()
	var opted bool
	st.read(func(d *stateData) { _, opted = d.OptedOut[to] })
	if opted {
		return sdk.SendResult{}, sdk.Permanent(ErrOptedOut)
	}

	choices := append(append([]sdk.Choice(nil), msg.Buttons...), msg.QuickReplies...)
	text := msg.Text
	if len(choices) > 0 {
		text = withOptions(text, choices)
	}
	base := publicBase(cfg, host)
	var mediaURLs []string
	if msg.Media != nil {
		u, err := media.put(base, msg.Media.Data, msg.Media.ContentType, cfg.mediaTTL, a.now())
		if err != nil {
			return sdk.SendResult{}, fmt.Errorf("sms: %w", err)
		}
		if prov.mms() {
			mediaURLs = []string{u}
		} else {
			text = strings.TrimSpace(text + "\n" + u)
		}
	}
	pieces := splitText(text, cfg.maxText)
	if len(pieces) == 0 {
		if len(mediaURLs) == 0 {
			return sdk.SendResult{}, sdk.Permanent(errors.New("sms: empty message"))
		}
		pieces = []string{""}
	}
	callback := base + "/status"
	if cfg.provider == "vonage" {
		callback = withQuery(callback, "token", cfg.webhookToken)
	}

	// The options replace those offered before, before the provider takes
	// the SMS: a reply can arrive before the provider's answer does.
	err := st.update(func(d *stateData) error {
		if len(choices) > 0 {
			d.Choices[to] = offered{Choices: choices, At: a.now()}
		} else {
			delete(d.Choices, to)
		}
		return nil
	})
	if err != nil {
		return sdk.SendResult{}, fmt.Errorf("sms: options not saved: %w", err)
	}

	key := msg.IdempotencyKey
	var done [][]string
	if key != "" {
		// A copy: the loop appends to it outside the state's lock.
		st.read(func(d *stateData) { done = append([][]string(nil), d.Progress[key].Parts...) })
	}
	for i, piece := range pieces {
		if i < len(done) {
			continue // sent before this Send was retried
		}
		out := outboundSMS{To: to, Text: piece, StatusCallback: callback, ClientRef: key}
		if i == 0 {
			out.MediaURLs = mediaURLs
		}
		ids, err := prov.send(ctx, out)
		if err != nil {
			if optedOut(err) {
				_ = st.update(func(d *stateData) error { d.OptedOut[to] = a.now(); return nil })
			}
			return sdk.SendResult{}, fmt.Errorf("sms: send part %d of %d: %w", i+1, len(pieces), err)
		}
		done = append(done, ids)
		err = st.update(func(d *stateData) error {
			now := a.now()
			for _, id := range ids {
				s := d.Sent[id] // a fast status callback may have made it already
				s.Phone, s.At = to, now
				d.Sent[id] = s
			}
			if key != "" {
				d.Progress[key] = progress{Parts: done, At: now}
			}
			return nil
		})
		if err != nil {
			// Sent, but a retry may not know: say so, the SDK journal still
			// answers retries of the whole Send once it returns.
			a.log.Error("sms sent, but its progress was not saved", "err", err)
		}
	}
	var ids []string
	for _, p := range done {
		ids = append(ids, p...)
	}
	return sdk.SendResult{MessageIDs: ids}, nil
}

func withQuery(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}
