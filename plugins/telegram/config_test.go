package telegram

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/plugins/sdk"
)

func TestConfigure(t *testing.T) {
	tests := []struct {
		name       string
		config     string
		wantFields []string // every field error expected, sorted
	}{
		{"webhook minimal", `{"bot_token":"123:abc","secret_token":"s"}`, nil},
		{"polling minimal", `{"bot_token":"123:abc","mode":"polling"}`, nil},
		{"everything", `{"bot_token":"123:abc","mode":"webhook","secret_token":"a-b_C","api_base_url":"http://127.0.0.1:1/",
			"edited_messages":"ignore","start_text":"hi","end_keywords":["/stop","bye"],"end_on_block":false,"poll_timeout":50,
			"delete_webhook":false,"max_connections":100,"per_chat_rate":2,"per_chat_burst":1,"global_rate":10,
			"typing_interval":"3s","request_timeout":"10s"}`, nil},
		{"empty block", `{}`, []string{"bot_token", "secret_token"}},
		{"bad values", `{"bot_token":"not a token","mode":"push","secret_token":"has space","api_base_url":"ftp://x",
			"edited_messages":"drop","end_keywords":[""],"poll_timeout":51,"max_connections":101,"per_chat_rate":-1,
			"per_chat_burst":-2,"global_rate":-3,"typing_interval":"forever","request_timeout":"1ns"}`,
			[]string{"api_base_url", "bot_token", "edited_messages", "end_keywords[0]", "global_rate", "max_connections", "mode",
				"per_chat_burst", "per_chat_rate", "poll_timeout", "request_timeout", "secret_token", "typing_interval"}},
		{"unknown key", `{"bot_token":"123:abc","mode":"polling","token":"x"}`, []string{"token"}},
		{"wrong type", `{"bot_token":123,"mode":"polling"}`, []string{"bot_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(context.Background(), sdk.Setup{Channel: "tg", Config: sdk.NewConfig([]byte(tt.config)), Logger: hclog.NewNullLogger()})
			var got []string
			if err != nil {
				fe, ok := err.(sdk.FieldErrors)
				if !ok {
					t.Fatalf("Configure returned %T %v; want sdk.FieldErrors", err, err)
				}
				for _, e := range fe {
					if e.Message == "" {
						t.Errorf("field %q has no message", e.Field)
					}
					got = append(got, e.Field)
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tt.wantFields, ",") {
				t.Fatalf("field errors on %v (%v); want %v", got, err, tt.wantFields)
			}
		})
	}
}

// The token is a secret: a malformed one is never echoed back.
func TestConfigureDoesNotEchoToken(t *testing.T) {
	const token = "12345:has a secret space"
	err := New().Configure(context.Background(), sdk.Setup{Config: sdk.NewConfig([]byte(`{"bot_token":"` + token + `","mode":"polling"}`)), Logger: hclog.NewNullLogger()})
	if err == nil || strings.Contains(err.Error(), "secret space") {
		t.Fatalf("error %v; want a field error that does not contain the token", err)
	}
}

// Configure runs offline under `leconnect validate`: it must not call the API.
func TestConfigureMakesNoRequests(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for _, mode := range []string{"webhook", "polling"} {
		cfg := `{"bot_token":"123:abc","secret_token":"s","mode":"` + mode + `","api_base_url":"` + srv.URL + `"}`
		if err := New().Configure(context.Background(), sdk.Setup{Config: sdk.NewConfig([]byte(cfg)), Logger: hclog.NewNullLogger()}); err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("Configure made %d requests to the Bot API; want none", n)
	}
}
