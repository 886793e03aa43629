package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Delivery is one event or interactivity payload and what happened to it.
type Delivery struct {
	// EventID is the event_callback's event_id, or "interactive:<n>" for
	// an interactivity payload (those have no event id).
	EventID string `json:"event_id"`
	// Kind is "events_api" or "interactive" (the Socket Mode envelope types).
	Kind     string          `json:"kind"`
	Payload  json.RawMessage `json:"payload"`
	Attempts []Attempt       `json:"attempts"`
	// Acked: the app answered 2xx (HTTP) or acknowledged the envelope (socket).
	Acked bool `json:"acked"`
	// GaveUp: every retry failed, or the app answered x-slack-no-retry: 1.
	GaveUp bool `json:"gave_up"`
}

// Attempt is one delivery attempt.
type Attempt struct {
	RetryNum int    `json:"retry_num"`
	Reason   string `json:"retry_reason,omitempty"`
	Status   int    `json:"status,omitempty"` // HTTP status, 0 over a socket or on failure
	Error    string `json:"error,omitempty"`
	// Acked: this attempt was answered 2xx, or its envelope acknowledged.
	Acked bool      `json:"acked"`
	At    time.Time `json:"at"`
}

// envelope is a Socket Mode frame waiting to be sent or acknowledged.
type envelope struct {
	d        *Delivery
	id       string
	attempt  int
	reason   string
	sentTo   *socketConn
	sentAt   time.Time
	index    int // of the Delivery's attempt this send is
	response json.RawMessage
}

// eventCallback wraps an inner event in the outer envelope (§2.1).
func (e *Emulator) eventCallbackLocked(inner any) (string, json.RawMessage) {
	id := e.nextIDLocked("Ev")
	now := time.Now().Unix()
	body, _ := json.Marshal(map[string]any{
		"token": "emulator-verification-token", "team_id": e.opts.TeamID, "api_app_id": e.opts.AppID,
		"event": inner, "type": "event_callback", "event_id": id, "event_time": now,
		"authorizations": []map[string]any{{"enterprise_id": nil, "team_id": e.opts.TeamID,
			"user_id": e.opts.BotUserID, "is_bot": true, "is_enterprise_install": false}},
		"is_ext_shared_channel": false, "event_context": "EC" + id,
	})
	return id, body
}

// enqueueLocked sends d by the app's transport. Callers hold e.mu.
func (e *Emulator) enqueueLocked(d *Delivery) {
	e.deliveries = append(e.deliveries, d)
	if d.EventID != "" {
		e.byEventID[d.EventID] = d
	}
	e.notifyLocked()
	if e.opts.SocketMode {
		e.socketQueue = append(e.socketQueue, &envelope{d: d, id: e.envelopeIDLocked()})
		return
	}
	e.wg.Add(1)
	go e.push(d, e.requestOrInteractURLLocked(d.Kind))
}

func (e *Emulator) envelopeIDLocked() string {
	e.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", e.seq, time.Now().UnixNano()&0xffffffffffff)
}

func (e *Emulator) requestOrInteractURLLocked(kind string) string {
	if kind == "interactive" && e.interactURL != "" {
		return e.interactURL
	}
	return e.requestURL
}

// echoLocked sends the app's own post back as a message event (§2.4).
func (e *Emulator) echoLocked(c *channel, m *Message) {
	if e.opts.NoBotEcho {
		return
	}
	inner := map[string]any{"type": "message", "channel": c.ID, "user": m.User, "bot_id": m.BotID, "app_id": m.AppID,
		"text": m.Text, "ts": m.TS, "event_ts": m.TS, "channel_type": channelType(c)}
	if m.ThreadTS != "" {
		inner["thread_ts"] = m.ThreadTS
	}
	if len(m.Files) > 0 {
		inner["files"] = m.Files
	}
	id, body := e.eventCallbackLocked(inner)
	e.enqueueLocked(&Delivery{EventID: id, Kind: "events_api", Payload: body})
}

func channelType(c *channel) string {
	if c.IsIM {
		return "im"
	}
	return "channel"
}

// Sign computes X-Slack-Signature for body at timestamp ts (§2.3).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%d:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// push delivers d over HTTP with Slack's retries (§2.2): up to three more
// attempts after RetryDelays, each with x-slack-retry-num and -reason;
// x-slack-no-retry: 1 on a non-2xx answer stops them. Interactivity
// payloads are not retried (UNCONFIRMED; see docs/emulator.md).
func (e *Emulator) push(d *Delivery, target string) {
	defer e.wg.Done()
	retries := e.opts.RetryDelays
	if d.Kind == "interactive" {
		retries = nil
	}
	reason := ""
	for n := 0; ; n++ {
		if n > 0 {
			if n > len(retries) {
				e.finish(d, false)
				return
			}
			select {
			case <-time.After(e.scaled(retries[n-1])):
			case <-e.done:
				return
			}
		}
		ok, stop, why := e.attempt(d, target, n, reason)
		if ok {
			e.finish(d, true)
			return
		}
		if stop {
			e.finish(d, false)
			return
		}
		reason = why
	}
}

func (e *Emulator) finish(d *Delivery, acked bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if acked {
		d.Acked = true
	} else if !d.Acked {
		d.GaveUp = true
	}
	e.notifyLocked()
}

// attempt makes one POST; it returns whether it succeeded, whether to stop
// retrying, and the retry reason for the next attempt.
func (e *Emulator) attempt(d *Delivery, target string, n int, reason string) (ok, stop bool, next string) {
	at := Attempt{RetryNum: n, Reason: reason, At: time.Now()}
	record := func() {
		e.mu.Lock()
		d.Attempts = append(d.Attempts, at)
		e.notifyLocked()
		e.mu.Unlock()
	}
	if target == "" {
		at.Error = ErrNoEndpoint.Error()
		record()
		return false, false, "connection_failed"
	}
	body := []byte(d.Payload)
	ct := "application/json"
	if d.Kind == "interactive" {
		body = []byte("payload=" + url.QueryEscape(string(d.Payload)))
		ct = "application/x-www-form-urlencoded"
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.AckTimeout)
	defer cancel()
	go func() {
		select {
		case <-e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		at.Error = err.Error()
		record()
		return false, true, ""
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(e.opts.SigningSecret, ts, body))
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	if n > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(n))
		req.Header.Set("X-Slack-Retry-Reason", reason)
	}
	client := &http.Client{CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) > 2 {
			return errTooManyRedirects
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		at.Error = err.Error()
		record()
		switch {
		case errors.Is(err, errTooManyRedirects):
			return false, false, "too_many_redirects"
		case errors.Is(err, context.DeadlineExceeded):
			return false, false, "http_timeout"
		}
		return false, false, "connection_failed"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	at.Status = resp.StatusCode
	at.Acked = resp.StatusCode >= 200 && resp.StatusCode < 300
	record()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return true, false, ""
	}
	return false, resp.Header.Get("X-Slack-No-Retry") == "1", "http_error"
}

var errTooManyRedirects = errors.New("too many redirects")

// retry sends an event again as Slack does after a missed ack: over HTTP
// with x-slack-retry-num n and reason; over Socket Mode as a new envelope
// with retry_attempt n.
func (e *Emulator) retry(eventID string, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.byEventID[eventID]
	if d == nil {
		return fmt.Errorf("event %q: %w", eventID, ErrUnknownMessage)
	}
	n := len(d.Attempts)
	if e.opts.SocketMode {
		e.socketQueue = append(e.socketQueue, &envelope{d: d, id: e.envelopeIDLocked(), attempt: max(n, 1), reason: reason})
		e.notifyLocked()
		return nil
	}
	target := e.requestOrInteractURLLocked(d.Kind)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if ok, _, _ := e.attempt(d, target, max(n, 1), reason); ok {
			e.finish(d, true)
		}
	}()
	return nil
}
