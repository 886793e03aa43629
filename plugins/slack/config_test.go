package slack

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name   string
		json   string
		fields []string // fields with errors, sorted
		check  func(t *testing.T, s settings)
	}{
		{name: "events defaults", json: `{"bot_token":"xoxb-1","signing_secret":"s"}`, check: func(t *testing.T, s settings) {
			if s.socket || s.apiBase != DefaultAPIBaseURL || s.threadScope || !s.forwardEdits || s.rateScale != 1 || s.ackBudget != 2500*time.Millisecond {
				t.Fatalf("defaults %+v", s)
			}
		}},
		{name: "socket", json: `{"bot_token":"xoxb-1","mode":"socket","app_token":"xapp-1","conversation_scope":"thread","api_base_url":"http://127.0.0.1:9/api/"}`, check: func(t *testing.T, s settings) {
			if !s.socket || !s.threadScope || s.apiBase != "http://127.0.0.1:9/api" {
				t.Fatalf("settings %+v", s)
			}
		}},
		{name: "nothing", json: `{}`, fields: []string{"bot_token", "signing_secret"}},
		{name: "socket without app token", json: `{"bot_token":"xoxb-1","mode":"socket"}`, fields: []string{"app_token"}},
		{name: "wrong token kinds", json: `{"bot_token":"xoxp-1","signing_secret":"s","app_token":"xoxb-2"}`, fields: []string{"app_token", "bot_token"}},
		{name: "bad values", json: `{"bot_token":"xoxb-1","signing_secret":"s","mode":"rtm","api_base_url":"slack.com","conversation_scope":"user",` +
			`"edited_messages":"keep","rate_scale":-1,"request_timeout":"forever","ack_budget":"4s","reconnect_backoff":"0s"}`,
			fields: []string{"ack_budget", "api_base_url", "conversation_scope", "edited_messages", "mode", "rate_scale", "reconnect_backoff", "request_timeout"}},
		{name: "unknown key", json: `{"bot_token":"xoxb-1","signing_secret":"s","verification_token":"x"}`, fields: []string{"verification_token"}},
		{name: "wrong type", json: `{"bot_token":"xoxb-1","signing_secret":"s","rate_scale":"fast"}`, fields: []string{"rate_scale"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseConfig(sdk.NewConfig([]byte(tc.json)))
			var fe sdk.FieldErrors
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatalf("unexpected errors: %v", err)
				}
				tc.check(t, s)
				return
			}
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want field errors", err)
			}
			var got []string
			for _, e := range fe {
				got = append(got, e.Field)
				if strings.Contains(e.Message, "xoxp-1") || strings.Contains(e.Message, "xoxb-2") {
					t.Errorf("field error echoes a secret: %s", e.Message)
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
}
