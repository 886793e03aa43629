package telegram

import (
	"context"
	"testing"

	emu "github.com/leconnect/leconnect/emulator/telegram"
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest"
)

// The conformance suite, once per receiving mode, against the emulator.
// Inbound acts as a Telegram user through the emulator; in webhook mode the
// emulator pushes the update to the webhook URL the adapter registered.
func TestConformance(t *testing.T) {
	for _, mode := range []string{"webhook", "polling"} {
		t.Run(mode, func(t *testing.T) {
			e, base := newEmulator(t, emu.Options{})
			adaptertest.Run(t, func() sdk.Adapter { return New() }, adaptertest.Options{
				Config:  config(e, base, mode, nil),
				Address: sdk.Address{ChatID: testChatID},
				Inbound: func(ctx context.Context, _ string, text string) error {
					_, err := e.SendText(testChat, text)
					return err
				},
			})
		})
	}
}
