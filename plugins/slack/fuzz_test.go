package slack

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/leconnect/leconnect/internal/fuzzseed"
	"github.com/leconnect/leconnect/plugins/sdk"
)

func fuzzSettings(f *testing.F, scope string) *settings {
	f.Helper()
	s, err := parseConfig(sdk.NewConfig([]byte(`{"bot_token":"xoxb-1","signing_secret":"s","conversation_scope":"` + scope + `","edited_messages":"forward"}`)))
	if err != nil {
		f.Fatal(err)
	}
	return &s
}

var fuzzSelf = identity{UserID: "U0SELF", BotID: "B0SELF"}

// checkInbound: an event the adapter would deliver is one the core
// accepts (files still to fetch aside), and map, the decode-and-map step,
// run on the payload re-encoded gives the same event.
func checkInbound[T any](t *testing.T, in inbound, payload T, mapIt func(T) (inbound, bool)) {
	t.Helper()
	if len(in.files) == 0 {
		if err := in.event.Validate(); err != nil {
			t.Fatalf("the adapter would deliver an event the core refuses: %v", err)
		}
	} else if in.event.Message == nil {
		t.Fatal("files to fetch for an event that is no message")
	}
	again, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("a decoded payload does not encode: %v", err)
	}
	var p2 T
	if err := json.Unmarshal(again, &p2); err != nil {
		t.Fatalf("a re-encoded payload does not decode: %v", err)
	}
	in2, ok := mapIt(p2)
	// Without a parseable ts the event is dated when it is mapped.
	in.event.OccurredAt, in2.event.OccurredAt = time.Time{}, time.Time{}
	if !ok || !reflect.DeepEqual(in, in2) {
		t.Fatalf("the payload re-encoded becomes another event:\n%+v\n%+v", in, in2)
	}
}

// FuzzEventCallback: Events API bodies (HTTP, or a Socket Mode envelope's
// payload), in both conversation scopes.
func FuzzEventCallback(f *testing.F) {
	fuzzseed.Files(f, "testdata/slack-event-*.json", func(b []byte) { f.Add(b, false) })
	fuzzseed.Files(f, "testdata/slack-app_rate_limited.json", func(b []byte) { f.Add(b, true) })
	scopes := map[bool]*settings{false: fuzzSettings(f, "channel"), true: fuzzSettings(f, "thread")}
	f.Fuzz(func(t *testing.T, body []byte, threads bool) {
		s := scopes[threads]
		var cb callback
		if json.Unmarshal(body, &cb) != nil || cb.Type != "event_callback" {
			return
		}
		mapIt := func(cb callback) (inbound, bool) { in, ok, _ := fromCallback(cb, s, fuzzSelf); return in, ok }
		if in, ok := mapIt(cb); ok {
			checkInbound(t, in, cb, mapIt)
		}
	})
}

// FuzzSocketModeFrame: a Socket Mode frame, as serveConn reads it, down to
// the event its envelope's payload becomes.
func FuzzSocketModeFrame(f *testing.F) {
	fuzzseed.Files(f, "testdata/slack-socketmode-*.json", func(b []byte) { f.Add(b) })
	f.Add([]byte(`{"type":"interactive","envelope_id":"e1","payload":{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"D1"},"container":{"message_ts":"1.2"},"actions":[{"action_id":"a","type":"button","value":"yes","text":{"text":"Yes"}}]}}`))
	s := fuzzSettings(f, "channel")
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr frame
		if json.Unmarshal(data, &fr) != nil || fr.EnvelopeID == "" {
			return
		}
		switch fr.Type {
		case "events_api":
			var cb callback
			if json.Unmarshal(fr.Payload, &cb) != nil {
				return
			}
			mapIt := func(cb callback) (inbound, bool) { in, ok, _ := fromCallback(cb, s, fuzzSelf); return in, ok }
			if in, ok := mapIt(cb); ok {
				checkInbound(t, in, cb, mapIt)
			}
		case "interactive":
			var p interaction
			if json.Unmarshal(fr.Payload, &p) != nil {
				return
			}
			mapIt := func(p interaction) (inbound, bool) { in, ok, _ := fromInteraction(p, s); return in, ok }
			if in, ok := mapIt(p); ok {
				checkInbound(t, in, p, mapIt)
			}
		}
	})
}

// FuzzInteraction: block_actions payloads (a button tapped).
func FuzzInteraction(f *testing.F) {
	f.Add([]byte(`{"type":"block_actions","user":{"id":"U1","username":"ann","name":"Ann","team_id":"T1"},"channel":{"id":"D1"},"container":{"message_ts":"1700000000.000100","channel_id":"D1"},"message":{"ts":"1700000000.000100","thread_ts":""},"actions":[{"action_id":"lc-1","type":"button","value":"yes","action_ts":"1700000001.1","text":{"text":"Yes"}}]}`), false)
	f.Add([]byte(`{"type":"block_actions","user":{"id":"U1"},"container":{"channel_id":"C1"},"message":{"ts":"1.1","thread_ts":"1.0"},"actions":[{"type":"button","text":{"text":"No"}}]}`), true)
	scopes := map[bool]*settings{false: fuzzSettings(f, "channel"), true: fuzzSettings(f, "thread")}
	f.Fuzz(func(t *testing.T, payload []byte, threads bool) {
		s := scopes[threads]
		var p interaction
		if json.Unmarshal(payload, &p) != nil {
			return
		}
		mapIt := func(p interaction) (inbound, bool) { in, ok, _ := fromInteraction(p, s); return in, ok }
		if in, ok := mapIt(p); ok {
			checkInbound(t, in, p, mapIt)
		}
	})
}

// FuzzSignature: a body signed as Slack signs verifies; the same headers
// fail once one byte of the body changes, or for another timestamp.
func FuzzSignature(f *testing.F) {
	fuzzseed.Files(f, "testdata/slack-event-*.json", func(b []byte) { f.Add(b, uint(0), byte(1)) })
	f.Add([]byte{}, uint(0), byte(0))
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte, at uint, flip byte) {
		ts := strconv.FormatInt(now.Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("v0:" + ts + ":"))
		m.Write(body)
		h := http.Header{"X-Slack-Signature": {"v0=" + hex.EncodeToString(m.Sum(nil))}, "X-Slack-Request-Timestamp": {ts}}
		if err := verify(h, body, secret, now); err != nil {
			t.Fatalf("a correctly signed body fails: %v", err)
		}
		later := h.Clone()
		later.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix()+1, 10))
		if verify(later, body, secret, now) == nil {
			t.Fatal("the signature verifies for another timestamp")
		}
		if len(body) == 0 || flip == 0 {
			return
		}
		changed := bytes.Clone(body)
		changed[at%uint(len(body))] ^= flip
		if verify(h, changed, secret, now) == nil {
			t.Fatal("the signature verifies a changed body")
		}
	})
}
