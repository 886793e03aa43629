package sms

import (
	"strings"
	"testing"

	"github.com/leconnect/leconnect/plugins/sdk"
)

func TestConfigValidation(t *testing.T) {
	const sid = "AC0123456789abcdef0123456789abcdef"
	tests := []struct {
		name   string
		config string
		fields []string // keys that must be reported; none = valid
	}{
		{"twilio minimal", `{"provider":"twilio","account_sid":"` + sid + `","auth_token":"t","from":"+14155550100"}`, nil},
		{"twilio service", `{"provider":"twilio","account_sid":"` + sid + `","auth_token":"t","messaging_service_sid":"MG0123456789abcdef0123456789abcdef"}`, nil},
		{"vonage minimal", `{"provider":"vonage","api_key":"k","api_secret":"s","webhook_token":"0123456789abcdef","from":"AcmeInc"}`, nil},
		{"no provider", `{}`, []string{"provider"}},
		{"bad provider", `{"provider":"sinch"}`, []string{"provider"}},
		{"twilio missing everything", `{"provider":"twilio"}`, []string{"account_sid", "auth_token", "from"}},
		{"twilio bad values", `{"provider":"twilio","account_sid":"XX","auth_token":"t","from":"4155550100","messaging_service_sid":"MGx","api_base_url":"ftp://x","public_url":"/rel","max_text_length":5000,"media_url_ttl":"1s","request_timeout":"forever"}`,
			[]string{"account_sid", "from", "messaging_service_sid", "api_base_url", "public_url", "max_text_length", "media_url_ttl", "request_timeout"}},
		{"twilio with vonage keys", `{"provider":"twilio","account_sid":"` + sid + `","auth_token":"t","from":"+14155550100","api_key":"k"}`, []string{"api_key"}},
		{"vonage missing everything", `{"provider":"vonage"}`, []string{"api_key", "api_secret", "webhook_token", "from"}},
		{"vonage short token, bad sender", `{"provider":"vonage","api_key":"k","api_secret":"s","webhook_token":"short","from":"Acme Incorporated Ltd"}`, []string{"webhook_token", "from"}},
		{"unknown key", `{"provider":"twilio","account_sid":"` + sid + `","auth_token":"t","from":"+14155550100","colour":"red"}`, []string{"colour"}},
		{"wrong type", `{"provider":"twilio","account_sid":"` + sid + `","auth_token":"t","from":"+14155550100","max_text_length":"long"}`, []string{"max_text_length"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(sdk.NewConfig([]byte(tt.config)))
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			fe, ok := err.(sdk.FieldErrors)
			if !ok {
				t.Fatalf("err = %v (%T), want FieldErrors", err, err)
			}
			got := map[string]bool{}
			for _, f := range fe {
				got[f.Field] = true
				if strings.Contains(f.Message, `"t"`) || strings.Contains(f.Message, `"s"`) {
					t.Errorf("a secret is echoed: %s", f.Message)
				}
			}
			for _, f := range tt.fields {
				if !got[f] {
					t.Errorf("no field error for %s (got %v)", f, fe)
				}
			}
			if len(fe) != len(tt.fields) {
				t.Errorf("field errors %v, want exactly %v", fe, tt.fields)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := parseConfig(sdk.NewConfig([]byte(`{"provider":"vonage","api_key":"k","api_secret":"s","webhook_token":"0123456789abcdef","from":"+447700900000"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if s.apiBase != DefaultVonageAPIBaseURL || s.maxText != 1600 || s.mediaTTL.String() != "1h0m0s" {
		t.Fatalf("defaults %+v", s)
	}
}
