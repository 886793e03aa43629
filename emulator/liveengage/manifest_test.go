package liveengage

import (
	"testing"
	"time"
)

func TestApplyManifest(t *testing.T) {
	intp := func(i int) *int { return &i }
	for _, tc := range []struct {
		file      string
		retention time.Duration
		client    string
		webhooks  map[string]WebhookEndpoint
	}{
		{"app-install-manifest-connector.json", 0, testClient, map[string]WebhookEndpoint{
			NotificationContentEvent:      {URL: "https://your/webhooks/endpoint", MaxRetries: intp(3)},
			NotificationRichContentEvent:  {URL: "https://your/webhooks/endpoint", MaxRetries: intp(5)},
			NotificationAcceptStatusEvent: {URL: "https://your/webhooks/endpoint", MaxRetries: intp(1)},
			NotificationChatStateEvent:    {URL: "https://your/webhooks/endpoint"},
			NotificationExConversation:    {URL: "https://your/webhooks/endpoint"},
		}},
		{"app-install-manifest-retry-ttl.json", 86400 * time.Second, testClient, map[string]WebhookEndpoint{
			NotificationContentEvent:     {URL: "https://www.application.endpoint.com/", MaxRetries: intp(0)},
			NotificationRichContentEvent: {URL: "https://www.application.endpoint.com/"},
		}},
		{"app-install-manifest-webhooks-headers.json", 0, testClient, map[string]WebhookEndpoint{
			NotificationContentEvent:      {URL: "https://your/webhooks/endpoint", MaxRetries: intp(3), Headers: []Header{{"NAME", "VALUE"}}},
			NotificationRichContentEvent:  {URL: "https://your/webhooks/endpoint", MaxRetries: intp(5), Headers: []Header{{"NAME", "VALUE"}}},
			NotificationAcceptStatusEvent: {URL: "https://your/webhooks/endpoint", MaxRetries: intp(1)},
			NotificationChatStateEvent:    {URL: "https://your/webhooks/endpoint"},
			NotificationExConversation:    {URL: "https://your/webhooks/endpoint"},
		}},
		{"app-installation-object-demoapp-mock.json", 3600 * time.Second, "xxxx-wewe-43e0-we-xxxxxxx", map[string]WebhookEndpoint{
			NotificationContentEvent:      {URL: "https://your/webhooks/endpoint", Headers: []Header{}},
			NotificationRichContentEvent:  {URL: "https://your/webhooks/endpoint", Headers: []Header{}},
			NotificationAcceptStatusEvent: {URL: "https://your/webhooks/endpoint", Headers: []Header{}},
			NotificationChatStateEvent:    {URL: "https://your/webhooks/endpoint", Headers: []Header{}},
			NotificationExConversation:    {URL: "https://your/webhooks/endpoint", Headers: []Header{}},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			o := Options{ClientID: testClient, ClientSecret: testSecret}
			if err := o.ApplyManifest(readTestdata(t, tc.file)); err != nil {
				t.Fatal(err)
			}
			if o.RetentionTime != tc.retention || o.ClientID != tc.client {
				t.Errorf("retention %s client %s", o.RetentionTime, o.ClientID)
			}
			if len(o.Webhooks) != len(tc.webhooks) {
				t.Fatalf("%d webhooks, want %d: %+v", len(o.Webhooks), len(tc.webhooks), o.Webhooks)
			}
			for k, want := range tc.webhooks {
				got := o.Webhooks[k]
				if got.URL != want.URL || (got.MaxRetries == nil) != (want.MaxRetries == nil) ||
					(got.MaxRetries != nil && *got.MaxRetries != *want.MaxRetries) || len(got.Headers) != len(want.Headers) {
					t.Errorf("%s: %+v, want %+v", k, got, want)
				}
				for i := range want.Headers {
					if got.Headers[i] != want.Headers[i] {
						t.Errorf("%s header %d: %+v", k, i, got.Headers[i])
					}
				}
			}
			// The result is a valid installation for New.
			o.AccountID = testAccount
			o.SigningKey = sharedKey(t)
			e, err := New(o)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			_ = e.Close()
		})
	}
	t.Run("unknown type", func(t *testing.T) {
		var o Options
		if err := o.ApplyManifest([]byte(`{"capabilities":{"webhooks":{"ms.Nope":{"endpoint":"https://x"}}}}`)); err == nil {
			t.Error("no error")
		}
	})
}
