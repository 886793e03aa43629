package slack

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	emu "github.com/leconnect/leconnect/emulator/slack"
	"github.com/leconnect/leconnect/plugins/sdk"
)

func decodeCallback(t *testing.T, raw []byte) callback {
	t.Helper()
	var cb callback
	if err := json.Unmarshal(raw, &cb); err != nil {
		t.Fatal(err)
	}
	return cb
}

// The documented payloads (testdata, copied from samples/slack), mapped.
func TestFromCallbackSamples(t *testing.T) {
	channelScope := &settings{forwardEdits: true}
	self := identity{UserID: "U0LAN0Z89", BotID: "B0SELF"}
	tests := []struct {
		sample   string
		inner    string // replaces the inner event, for the inner-only samples
		s        *settings
		want     bool
		chat     string
		consumer string
		text     string
		edited   bool
		files    int
	}{
		{sample: "slack-event-message.normalized.json", s: channelScope, want: true, chat: "C123ABC456", consumer: "C123ABC456", text: "Hello world"},
		{sample: "slack-event-app_mention.normalized.json", s: channelScope, want: true, chat: "C123ABC456", consumer: "C123ABC456", text: "is it everything a river should be?"},
		{sample: "slack-event-message-bot_message.normalized.json", s: channelScope, want: false},
		{sample: "slack-event-message-message_changed.normalized.json", s: channelScope, want: true, chat: "C123ABC456", consumer: "C123ABC456", text: "Hello, world!", edited: true},
		{sample: "slack-event-message-message_changed.normalized.json", s: &settings{}, want: false},
		{sample: "slack-event-message-file_share.normalized.json", s: channelScope, want: true, chat: "D0L4B9P0Q", consumer: "U123ABC456", text: "We got one!", files: 1},
		{sample: "slack-event-message.normalized.json", inner: "slack-event-message-deleted-inner.json", s: channelScope, want: false},
		{sample: "slack-event-message.normalized.json", inner: "slack-event-message-edited-inner.json", s: channelScope, want: true, chat: "C123ABC456", consumer: "C123ABC456", text: "Hello, world!", edited: true},
		{sample: "slack-event-reaction_added.json", s: channelScope, want: false},
		{sample: "slack-app_rate_limited.json", s: channelScope, want: false},
	}
	for _, tc := range tests {
		name := strings.TrimSuffix(tc.sample, ".json")
		if tc.inner != "" {
			name = tc.inner
		}
		if tc.s.forwardEdits != channelScope.forwardEdits {
			name += "/edits-ignored"
		}
		t.Run(name, func(t *testing.T) {
			cb := decodeCallback(t, readSample(t, tc.sample))
			if tc.inner != "" {
				cb.Event = readSample(t, tc.inner)
			}
			in, ok, why := fromCallback(cb, tc.s, self)
			if ok != tc.want {
				t.Fatalf("delivered = %v (%s), want %v", ok, why, tc.want)
			}
			if !ok {
				return
			}
			ev := in.event
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
			if ev.ID != cb.EventID || ev.Address.ChatID != tc.chat || ev.Consumer.ID != tc.consumer {
				t.Fatalf("event %q at %+v by %q; want %q at %s by %s", ev.ID, ev.Address, ev.Consumer.ID, cb.EventID, tc.chat, tc.consumer)
			}
			if ev.Message.Text != tc.text || ev.Message.Edited != tc.edited || len(in.files) != tc.files {
				t.Fatalf("message %+v with %d files; want text %q edited %v files %d", ev.Message, len(in.files), tc.text, tc.edited, tc.files)
			}
		})
	}
}

func TestFromCallbackFiltering(t *testing.T) {
	self := identity{UserID: "U0SELF"}
	base := decodeCallback(t, readSample(t, "slack-event-message.normalized.json"))
	tests := []struct {
		name  string
		patch map[string]any
		scope *settings
		want  bool
		addr  sdk.Address
		cons  string
		text  string
	}{
		{name: "own bot user", patch: map[string]any{"user": "U0SELF"}, want: false},
		{name: "bot_id set (own posts echo back)", patch: map[string]any{"bot_id": "B0SELF"}, want: false},
		{name: "channel_join", patch: map[string]any{"subtype": "channel_join"}, want: false},
		{name: "thread_broadcast delivered", patch: map[string]any{"subtype": "thread_broadcast"}, want: true, addr: sdk.Address{ChatID: "C123ABC456"}, cons: "C123ABC456", text: "Hello world"},
		{name: "escaped text", patch: map[string]any{"text": "a &lt;b&gt; &amp; c"}, want: true, addr: sdk.Address{ChatID: "C123ABC456"}, cons: "C123ABC456", text: "a <b> & c"},
		{name: "thread scope, top-level post opens a thread", scope: &settings{threadScope: true}, want: true,
			addr: sdk.Address{ChatID: "C123ABC456", ThreadID: "1355517523.000005"}, cons: "C123ABC456/1355517523.000005", text: "Hello world"},
		{name: "thread scope, reply", scope: &settings{threadScope: true}, patch: map[string]any{"thread_ts": "1355517000.000001"}, want: true,
			addr: sdk.Address{ChatID: "C123ABC456", ThreadID: "1355517000.000001"}, cons: "C123ABC456/1355517000.000001", text: "Hello world"},
		{name: "thread scope, DMs stay per channel", scope: &settings{threadScope: true}, patch: map[string]any{"channel": "D0DM", "channel_type": "im"}, want: true,
			addr: sdk.Address{ChatID: "D0DM"}, cons: "U123ABC456", text: "Hello world"},
		{name: "no text, no files", patch: map[string]any{"text": ""}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var inner map[string]any
			_ = json.Unmarshal(base.Event, &inner)
			for k, v := range tc.patch {
				inner[k] = v
			}
			cb := base
			cb.Event, _ = json.Marshal(inner)
			s := tc.scope
			if s == nil {
				s = &settings{forwardEdits: true}
			}
			in, ok, why := fromCallback(cb, s, self)
			if ok != tc.want {
				t.Fatalf("delivered = %v (%s), want %v", ok, why, tc.want)
			}
			if ok && (in.event.Address != tc.addr || in.event.Consumer.ID != tc.cons || in.event.Message.Text != tc.text) {
				t.Fatalf("got %+v by %q text %q; want %+v by %q text %q", in.event.Address, in.event.Consumer.ID, in.event.Message.Text, tc.addr, tc.cons, tc.text)
			}
		})
	}
}

// Socket Mode envelopes from the samples carry ordinary event_callbacks.
func TestSocketEnvelopeSamples(t *testing.T) {
	for _, name := range []string{"slack-socketmode-envelope-events_api-message.json", "slack-socketmode-envelope-events_api-app_mention.json"} {
		t.Run(name, func(t *testing.T) {
			var f frame
			if err := json.Unmarshal(readSample(t, name), &f); err != nil {
				t.Fatal(err)
			}
			if f.Type != "events_api" || f.EnvelopeID == "" {
				t.Fatalf("frame %+v", f)
			}
			in, ok, why := fromCallback(decodeCallback(t, f.Payload), &settings{}, identity{UserID: "U111"})
			if !ok {
				t.Fatalf("not delivered: %s", why)
			}
			if in.event.ID != "Ev111" || in.event.Message.ID != "1610241741.000200" || in.event.Address.ChatID != "C111" {
				t.Fatalf("event %+v", in.event)
			}
		})
	}
	var hello frame
	if err := json.Unmarshal(readSample(t, "slack-socketmode-hello.json"), &hello); err != nil || hello.Type != "hello" {
		t.Fatalf("hello sample: %+v %v", hello, err)
	}
	var disc frame
	if err := json.Unmarshal(readSample(t, "slack-socketmode-disconnect-refresh_requested.json"), &disc); err != nil || disc.Type != "disconnect" || disc.Reason != "refresh_requested" {
		t.Fatalf("disconnect sample: %+v %v", disc, err)
	}
}

// post sends a signed request to the adapter's handler.
func post(t *testing.T, a *Adapter, contentType, body string, extra http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header = signed(time.Now().Unix(), body)
	r.Header.Set("Content-Type", contentType)
	for k, v := range extra {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w
}

func TestServeHTTP(t *testing.T) {
	s := start(t, emu.Options{SigningSecret: secret}, "events", nil)
	t.Run("url_verification", func(t *testing.T) {
		w := post(t, s.a, "application/json", string(readSample(t, "slack-url_verification-request.json")), nil)
		var got map[string]string
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil || got["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
			t.Fatalf("answer %d %s", w.Code, w.Body)
		}
	})
	t.Run("ssl_check", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("ssl_check=1&token=x"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.a.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("malformed is not retried", func(t *testing.T) {
		w := post(t, s.a, "application/json", "{not json", nil)
		if w.Code != 400 || w.Header().Get("X-Slack-No-Retry") != "1" {
			t.Fatalf("status %d no-retry %q", w.Code, w.Header().Get("X-Slack-No-Retry"))
		}
	})
	msg := string(readSample(t, "slack-event-message.normalized.json"))
	t.Run("deliver failure asks for a retry", func(t *testing.T) {
		s.h.setFail(errors.New("store down"))
		defer s.h.setFail(nil)
		if w := post(t, s.a, "application/json", msg, nil); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", w.Code)
		}
	})
	t.Run("retries are delivered once", func(t *testing.T) {
		for i, retry := range []string{"", "1", "2"} {
			hdr := http.Header{}
			if retry != "" {
				hdr.Set("X-Slack-Retry-Num", retry)
				hdr.Set("X-Slack-Retry-Reason", "http_timeout")
			}
			if w := post(t, s.a, "application/json", msg, hdr); w.Code != 200 {
				t.Fatalf("attempt %d: status %d", i, w.Code)
			}
		}
		if evs := s.h.all(); len(evs) != 1 {
			t.Fatalf("delivered %d events for one event and its retries", len(evs))
		}
	})
	t.Run("app_mention and message of one post are delivered once", func(t *testing.T) {
		var cb map[string]any
		_ = json.Unmarshal(readSample(t, "slack-event-message.normalized.json"), &cb)
		cb["event_id"] = "Ev0MENTION"
		cb["event"].(map[string]any)["type"] = "app_mention"
		b, _ := json.Marshal(cb)
		if w := post(t, s.a, "application/json", string(b), nil); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		if evs := s.h.all(); len(evs) != 1 {
			t.Fatalf("delivered %d events", len(evs))
		}
	})
	t.Run("block_actions", func(t *testing.T) {
		payload := `{"type":"block_actions","user":{"id":"U0TESTUSER","username":"ann","name":"ann","team_id":"T1"},` +
			`"container":{"type":"message","message_ts":"1700000000.000100","channel_id":"D0TESTUSER"},"channel":{"id":"D0TESTUSER"},` +
			`"message":{"type":"message","ts":"1700000000.000100","bot_id":"B0BOTID"},` +
			`"actions":[{"action_id":"leconnect_choice_0","block_id":"b","type":"button","value":"yes","text":{"type":"plain_text","text":"Yes!"},"action_ts":"1700000001.000200"}]}`
		if w := post(t, s.a, "application/x-www-form-urlencoded", "payload="+url.QueryEscape(payload), nil); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		evs := s.h.all()
		last := evs[len(evs)-1]
		if last.Message == nil || last.Message.Choice == nil || *last.Message.Choice != (sdk.Choice{ID: "yes", Text: "Yes!"}) ||
			last.Address.ChatID != "D0TESTUSER" || last.Consumer.ID != "U0TESTUSER" {
			t.Fatalf("event %+v", last)
		}
	})
}
