// Package telegram emulates the Telegram Bot API for one bot, for tests,
// benchmarks and the demo: every method the Telegram adapter uses, with the
// response envelopes, error bodies and HTTP statuses of the reference
// (shared/reference/channels.md §1, samples/telegram), webhook delivery
// with the secret header and retries, getUpdates long polling with its 409
// conflicts, files for getFile, and rate limits. A control API under
// /fake/telegram/api/ (and Go methods with the same meaning) plays the
// Telegram user and shows what the bot did.
//
// It follows the reference, never the adapter: where the reference is
// UNCONFIRMED the emulator accepts every documented variant, and the choice
// is listed in docs/emulator.md (Telegram section).
//
// Where to start reading:
//   - emulator.go: Options, New, Handler (the routing) and Close.
//   - botapi.go: /bot<token>/<method>, parameter decoding (query, form,
//     JSON, multipart), sendMessage / sendPhoto / sendDocument /
//     sendChatAction / answerCallbackQuery / getFile / getMe, file downloads.
//   - updates.go: the update queue, getUpdates, setWebhook / deleteWebhook /
//     getWebhookInfo and the webhook pusher.
//   - control.go: the user side (SendText, SendPhoto, PressButton, Block ...),
//     fault injection and the /fake/telegram/api/ routes.
//
// Typical embedding in a test:
//
//	e, _ := telegram.New(telegram.Options{TimeScale: 0.001})
//	srv := httptest.NewServer(e.Handler())
//	defer srv.Close()
//	defer e.Close()
//	_ = e.AddUser(telegram.User{ID: 1111111, FirstName: "Ann"})
//	// point the adapter at srv.URL with bot_token e.Token(), then:
//	_, _ = e.SendText(1111111, "hello")
//	sent, _ := e.WaitSent(ctx, 1111111, 1)
package telegram
