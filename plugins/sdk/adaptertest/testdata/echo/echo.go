// Package echo is a minimal adapter used by leconnect's own tests. It is
// written only against plugins/sdk, as a third party would write one.
//
// Its "platform" is HTTP on its webhook: POST a JSON message to deliver it,
// GET /sent (with the auth token) to read what the core asked it to do.
// Send also delivers a DELIVERED receipt for every message it "sends", which
// exercises the adapter→core path from inside a core→adapter call.
package echo

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Config is the echo adapter's config block.
type Config struct {
	Token         string `json:"token"`           // required; webhook callers send it as X-Echo-Token
	MaxTextLength int    `json:"max_text_length"` // optional; texts are split beyond it
}

// Adapter is the echo adapter.
type Adapter struct {
	mu      sync.Mutex
	cfg     Config
	host    sdk.Host
	seq     int
	byKey   map[string][]string // idempotency key → message ids
	users   map[string]string   // chat → the user last seen in it, for receipts
	actions []Action
}

// Action is one thing the core asked the adapter to do, as GET /sent lists it.
type Action struct {
	Kind       string   `json:"kind"` // send | typing | read
	ChatID     string   `json:"chat_id"`
	Text       string   `json:"text,omitempty"`
	MessageIDs []string `json:"message_ids,omitempty"`
	Active     bool     `json:"active,omitempty"`
	Choices    []string `json:"choices,omitempty"`
	MediaBytes int      `json:"media_bytes,omitempty"`
}

// Inbound is what a POST to the webhook delivers.
type Inbound struct {
	ID     string `json:"id"`
	User   string `json:"user"`
	Chat   string `json:"chat"`
	Text   string `json:"text,omitempty"`
	Typing *bool  `json:"typing,omitempty"`
	Choice string `json:"choice,omitempty"`
	Read   string `json:"read,omitempty"` // a message id returned by Send
}

// New returns an unconfigured echo adapter.
func New() *Adapter { return &Adapter{byKey: map[string][]string{}, users: map[string]string{}} }

func (a *Adapter) Describe() sdk.Description {
	return sdk.Description{
		Name:    "echo",
		Version: "1.0.0",
		Capabilities: sdk.Capabilities{
			Typing: true, ReadReceipts: true, DeliveryReceipts: true, QuickReplies: true, Webhooks: true,
			MediaKinds: []sdk.MediaKind{sdk.MediaImage, sdk.MediaFile},
		},
	}
}

func (a *Adapter) Configure(_ context.Context, s sdk.Setup) error {
	var cfg Config
	var fe sdk.FieldErrors
	fe.Merge(s.Config.Decode(&cfg))
	if cfg.Token == "" && len(fe) == 0 {
		fe.Add("token", "required; any secret string that webhook callers send as X-Echo-Token")
	}
	if cfg.MaxTextLength < 0 {
		fe.Add("max_text_length", "must be 0 (no limit) or positive, got %d", cfg.MaxTextLength)
	}
	if err := fe.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg = cfg
	a.mu.Unlock()
	s.Logger.Info("echo adapter configured", "channel", s.Channel)
	return nil
}

func (a *Adapter) Start(_ context.Context, host sdk.Host) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.host = host
	return nil
}

func (a *Adapter) Send(ctx context.Context, msg sdk.OutboundMessage) (sdk.SendResult, error) {
	switch msg.Text {
	case "fail:permanent":
		return sdk.SendResult{}, sdk.Permanent(errors.New("echo: recipient blocked the bot"))
	case "fail:retry":
		return sdk.SendResult{}, sdk.RetryAfter(1500*time.Millisecond, errors.New("echo: too many requests"))
	}
	a.mu.Lock()
	if ids, ok := a.byKey[msg.IdempotencyKey]; ok && msg.IdempotencyKey != "" {
		a.mu.Unlock()
		return sdk.SendResult{MessageIDs: ids}, nil // a retry: do not send twice
	}
	parts := split(msg.Text, a.cfg.MaxTextLength)
	ids := make([]string, 0, len(parts))
	for _, p := range parts {
		a.seq++
		id := "echo-" + strconv.Itoa(a.seq)
		ids = append(ids, id)
		act := Action{Kind: "send", ChatID: msg.To.ChatID, Text: p, MessageIDs: []string{id}}
		for _, c := range msg.QuickReplies {
			act.Choices = append(act.Choices, c.Text)
		}
		if msg.Media != nil {
			act.MediaBytes = len(msg.Media.Data)
		}
		a.actions = append(a.actions, act)
	}
	a.byKey[msg.IdempotencyKey] = ids
	host, user := a.host, a.users[msg.To.ChatID]
	a.mu.Unlock()
	if user == "" {
		user = msg.To.ChatID
	}
	if host != nil {
		err := host.Deliver(ctx, sdk.Event{
			ID:       "receipt-" + strings.Join(ids, ","),
			Address:  msg.To,
			Consumer: sdk.Consumer{ID: user},
			Receipt:  &sdk.Receipt{Status: sdk.ReceiptDelivered, MessageIDs: ids},
		})
		if err != nil {
			return sdk.SendResult{}, fmt.Errorf("echo: deliver receipt: %w", err)
		}
	}
	return sdk.SendResult{MessageIDs: ids}, nil
}

func split(text string, limit int) []string {
	r := []rune(text)
	if limit <= 0 || len(r) <= limit {
		return []string{text}
	}
	var parts []string
	for len(r) > 0 {
		n := min(limit, len(r))
		parts = append(parts, string(r[:n]))
		r = r[n:]
	}
	return parts
}

func (a *Adapter) SetTyping(_ context.Context, to sdk.Address, active bool) error {
	a.record(Action{Kind: "typing", ChatID: to.ChatID, Active: active})
	return nil
}

func (a *Adapter) MarkRead(_ context.Context, at sdk.Address, ids []string) error {
	a.record(Action{Kind: "read", ChatID: at.ChatID, MessageIDs: ids})
	return nil
}

func (a *Adapter) record(act Action) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.actions = append(a.actions, act)
}

func (a *Adapter) Close(context.Context) error { return nil }

// ServeHTTP is the echo platform's webhook.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	token, host := a.cfg.Token, a.host
	a.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Echo-Token")), []byte(token)) != 1 {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/sent") {
		a.mu.Lock()
		body, _ := json.Marshal(a.actions)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST a message", http.StatusMethodNotAllowed)
		return
	}
	var in Inbound
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad json: "+err.Error(), http.StatusBadRequest)
		return
	}
	ev := sdk.Event{
		ID:         in.ID,
		OccurredAt: time.Now(),
		Address:    sdk.Address{ChatID: in.Chat},
		Consumer:   sdk.Consumer{ID: in.User, DisplayName: "Echo " + in.User},
	}
	switch {
	case in.Typing != nil:
		ev.Typing = &sdk.Typing{Active: *in.Typing}
	case in.Read != "":
		ev.Receipt = &sdk.Receipt{Status: sdk.ReceiptRead, MessageIDs: []string{in.Read}}
	case in.Choice != "":
		ev.Message = &sdk.Message{ID: in.ID, Text: in.Choice, Choice: &sdk.Choice{ID: in.Choice, Text: in.Choice}}
	default:
		ev.Message = &sdk.Message{ID: in.ID, Text: in.Text}
	}
	if err := ev.Validate(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if host == nil {
		http.Error(w, "not started", http.StatusServiceUnavailable)
		return
	}
	a.mu.Lock()
	a.users[in.Chat] = in.User
	a.mu.Unlock()
	// Acknowledge only after the core has stored the event.
	if err := host.Deliver(r.Context(), ev); err != nil {
		http.Error(w, "not accepted: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
