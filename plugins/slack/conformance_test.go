package slack

import (
	"context"
	"testing"

	emu "github.com/leconnect/leconnect/emulator/slack"
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest"
)

// The conformance suite, once per receiving mode, against the emulator.
// Inbound acts as a Slack user through the emulator; in events mode the
// emulator POSTs the signed event to the webhook URL the suite serves.
func TestConformance(t *testing.T) {
	for _, mode := range []string{"events", "socket"} {
		t.Run(mode, func(t *testing.T) {
			e, base := newEmulator(t, emu.Options{SocketMode: mode == "socket"})
			adaptertest.Run(t, func() sdk.Adapter { return New() }, adaptertest.Options{
				Config:  config(e, base, mode, nil),
				Address: sdk.Address{ChatID: e.DM(testUser)},
				Inbound: func(ctx context.Context, webhookURL string, text string) error {
					if mode == "events" {
						e.SetRequestURL(webhookURL)
					}
					_, err := e.PostMessage(emu.UserMessage{User: testUser, Text: text})
					return err
				},
			})
		})
	}
}
