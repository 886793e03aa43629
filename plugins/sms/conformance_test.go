package sms

import (
	"context"
	"testing"

	emu "github.com/leconnect/leconnect/emulator/sms"
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest"
)

// The conformance suite, once per provider, against the emulator. Inbound
// points the provider number's webhook at the suite's URL and plays the
// phone; the emulator signs (Twilio) or adds the token (Vonage).
func TestConformance(t *testing.T) {
	for _, provider := range []string{"twilio", "vonage"} {
		t.Run(provider, func(t *testing.T) {
			// Status callbacks are slowed past the suite's end: its
			// "unauthenticated webhook delivers nothing" check counts
			// events, and a receipt arriving meanwhile would be counted.
			// Receipts are tested in receipts_test.go.
			e, base := newEmulator(t, emu.Options{TimeScale: 1000})
			from := twilioFrom
			if provider == "vonage" {
				from = vonageFrom
			}
			adaptertest.Run(t, func() sdk.Adapter { return New() }, adaptertest.Options{
				Config:  config(e, base, provider, nil),
				Address: sdk.Address{ChatID: testPhone},
				Inbound: func(ctx context.Context, webhookURL, text string) error {
					hook := webhookURL
					if provider == "vonage" {
						hook += "?token=" + vonageToken
					}
					if err := e.AddNumber(emu.Number{Provider: provider, Number: from, WebhookURL: hook}); err != nil {
						return err
					}
					_, err := e.PhoneSend(testPhone, from, text)
					return err
				},
			})
		})
	}
}
