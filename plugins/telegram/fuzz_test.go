package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/leconnect/leconnect/internal/fuzzseed"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// FuzzUpdate: an update the webhook or getUpdates brings becomes at most
// one event; one the adapter delivers is valid for the core (or is a
// message whose files are still to be fetched), and the update re-encoded
// and decoded again becomes the same event.
func FuzzUpdate(f *testing.F) {
	fuzzseed.Files(f, "testdata/telegram-update-*.json", func(b []byte) { f.Add(b) })
	s, err := parseConfig(sdk.NewConfig([]byte(`{"bot_token":"1:x","mode":"polling","edited_messages":"forward","end_on_block":true}`)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var u update
		if json.Unmarshal(body, &u) != nil || u.UpdateID == 0 {
			return // refused with 400 by the webhook, skipped by polling
		}
		in, ok := toInbound(u, &s, echoChoice)
		if !ok {
			return
		}
		if len(in.files) == 0 {
			if err := in.event.Validate(); err != nil {
				t.Fatalf("the adapter would deliver an event the core refuses: %v", err)
			}
		} else if in.event.Message == nil {
			t.Fatal("files to fetch for an event that is no message")
		}
		again, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("a decoded update does not encode: %v", err)
		}
		var u2 update
		if err := json.Unmarshal(again, &u2); err != nil {
			t.Fatalf("a re-encoded update does not decode: %v", err)
		}
		in2, ok2 := toInbound(u2, &s, echoChoice)
		if !ok2 || !reflect.DeepEqual(in, in2) {
			t.Fatalf("the update re-encoded becomes another event:\n%+v\n%+v", in, in2)
		}
	})
}

// answer is a Bot API server that answers every call with status and body.
type answer struct {
	status int
	body   []byte
}

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzBotAPIResponse: whatever the Bot API answers, a call succeeds only
// on {"ok":true} with a result that decodes, and fails with an APIError
// only on {"ok":false} with an error_code; no answer panics.
func FuzzBotAPIResponse(f *testing.F) {
	fuzzseed.Files(f, "testdata/telegram-error-*.json", func(b []byte) { f.Add(400, b) })
	fuzzseed.Files(f, "testdata/telegram-getUpdates-response*.json", func(b []byte) { f.Add(200, b) })
	f.Add(200, []byte(`{"ok":true,"result":{"message_id":7,"date":1,"chat":{"id":5,"type":"private"}}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		api := &botAPI{base: "http://telegram.test", token: "1:x", http: &http.Client{Transport: answer{status, body}}, timeout: time.Second}
		var out message
		err := api.call(context.Background(), "sendMessage", map[string]any{"chat_id": 5, "text": "hi"}, &out)
		var env response
		decoded := json.Unmarshal(body, &env) == nil
		var ae *APIError
		switch {
		case err == nil:
			if !decoded || !env.OK {
				t.Fatalf("success on an answer that is not {\"ok\":true}: %q", body)
			}
		case errors.As(err, &ae):
			if !decoded || env.OK || env.ErrorCode == 0 || ae.Code != env.ErrorCode {
				t.Fatalf("APIError %+v from an answer that is no Bot API error: %q", ae, body)
			}
		}
	})
}
