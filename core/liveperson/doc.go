// Package liveperson is the core's LiveEngage (Conversational Cloud)
// Connector API client: everything the daemon says to LiveEngage and
// everything it accepts from it.
//
// Outbound, a Client (New, Config) resolves service hosts through the Domain
// API, keeps the AppJWT renewed ahead of its exp (one fetch however many
// goroutines need it; renewed and retried once on 401/40102), keeps one
// consumer JWS per ext_consumer_id in a ConsumerTokenStore (refetched on
// 40103), and runs every Send API call under LivePerson's published retry
// policy (RetryPolicy): no retry on other 4xx, at least 1 s (or Retry-After)
// after 429, 5 s / 10 s / 15 s after 5xx and then a longer outer backoff.
// Failures are *APIError values matching the sentinel errors in errors.go.
//
// Inbound, a Verifier checks webhook signatures over the raw body bytes and
// ParseNotification turns a body into typed values for the five
// notification types. BuildManifest renders the App Installation Manifest.
//
// Where to start reading:
//   - sendapi.go: the operations (CreateConversation, PublishText,
//     PublishFile, SetChatState, SendAcceptStatus, CloseConversation,
//     CloseDialog, SubmitCSAT, DownloadFile).
//   - client.go: do, the one place requests are sent, retried and classified.
//   - auth.go and domain.go: tokens and host resolution.
//   - webhook.go and notification.go: the inbound side.
//   - manifest.go: `leconnect manifest`.
//
// The facts behind all of it are in the project's LivePerson API reference
// (liveperson-api.md); choices made where it is UNCONFIRMED are noted where
// they are made.
package liveperson
