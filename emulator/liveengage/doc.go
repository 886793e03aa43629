// Package liveengage is a self-contained emulator of every LivePerson
// LiveEngage (Conversational Cloud) API a Connector API client touches: the
// Domain API (CSDS), Sentinel AppJWT, IDP ConsumerJWS, Send API v3
// (CONVERSATION and SEND), hosted files with temporary signed URLs, and signed
// webhooks with both documented retry modes. An agent-side JSON control API
// under /emulator/api/ (plus Go methods with the same meaning) plays the
// agent, and fault injection makes the failure paths testable.
//
// It is built from /work/shared/reference/liveperson-api.md field for field;
// every place where that reference is UNCONFIRMED is listed in
// docs/emulator.md together with the choice made here.
//
// Where to start reading:
//   - emulator.go: Options, New, Handler (the route table) and Close.
//   - sendapi.go: CONVERSATION and SEND, the heart of the emulator.
//   - conversation.go: the conversation model and the agent-side Go methods.
//   - webhooks.go: notification envelopes, signing, count and TTL retry modes.
//   - control.go: the /emulator/api/ JSON API and the SSE stream.
//   - auth.go, domain.go, files.go: Sentinel and IDP tokens, the Domain API,
//     the Swift file store; faults.go: fault injection; manifest.go: app
//     installation from an App Install Manifest.
//   - command.go: RunCommand, behind `leconnect emulator`.
//
// Typical embedding in a test:
//
//	emu, _ := liveengage.New(liveengage.Options{AccountID: "123", ClientID: "id", ClientSecret: "s"})
//	srv := httptest.NewServer(emu.Handler())
//	defer srv.Close()
//	defer emu.Close()
package liveengage
