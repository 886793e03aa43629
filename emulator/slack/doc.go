// Package slack emulates the Slack platform for one app installed in one
// workspace, for tests, benchmarks and the demo: the Web API methods the
// Slack adapter uses (auth.test, chat.postMessage, the external file upload
// flow, apps.connections.open) with the reference's response and error
// shapes (shared/reference/channels.md §2, samples/slack), Events API
// delivery signed with the signing secret and Slack's retries, block_actions
// interactivity payloads, and a Socket Mode WebSocket with envelopes, acks
// and disconnect frames. A control API under /fake/slack/api/ (and Go
// methods with the same meaning) acts as Slack users and shows what the app
// posted.
//
// It follows the reference, never the adapter: where the reference is
// UNCONFIRMED or silent the emulator accepts every documented variant, and
// the choice is listed in docs/emulator.md (Slack section).
//
// Where to start reading:
//   - emulator.go: Options, New, Handler (the routing) and Close.
//   - webapi.go: /api/<method>, argument decoding (query, form, multipart,
//     JSON), auth, chat.postMessage, files.*, file downloads, rate limits.
//   - events.go: event envelopes, signing (Sign), HTTP delivery and retries.
//   - socket.go: apps.connections.open tickets and the WebSocket.
//   - control.go: the user side (PostMessage, EditMessage, PressButton ...),
//     faults, and the /fake/slack/api/ routes.
//
// Typical embedding in a test:
//
//	e, _ := slack.New(slack.Options{TimeScale: 0.001, PostRate: -1})
//	srv := httptest.NewServer(e.Handler())
//	defer srv.Close()
//	defer e.Close()
//	e.SetPublicURL(srv.URL)
//	_ = e.AddUser(slack.User{ID: "U0ANN", Name: "ann"})
//	e.SetRequestURL(appURL) // events mode; or Options.SocketMode
//	_, _ = e.PostMessage(slack.UserMessage{User: "U0ANN", Text: "hello"})
//	posted, _ := e.WaitPosted(ctx, e.DM("U0ANN"), 1)
package slack
