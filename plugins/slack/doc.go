// Package slack is the Slack channel adapter: Slack DMs and shared
// (Slack Connect) channels on one side, the leconnect core on the other.
// The facts it follows are in shared/reference/channels.md §2.
//
// Receiving, in one of two modes (config key mode):
//   - events: Slack POSTs Events API and interactivity requests to the
//     core's /channels/<name>/webhook, which forwards them to ServeHTTP
//     (events.go). Every request must carry a valid v0 signature at most
//     five minutes old (verify.go). The answer comes once the core stored
//     the event, within ack_budget of Slack's 3-second deadline.
//   - socket: Socket Mode (socket.go) over github.com/coder/websocket:
//     apps.connections.open, hello, envelopes acknowledged after delivery,
//     reconnection after disconnect frames and network failures. Slack
//     allows up to 10 connections per app and sends each envelope to one of
//     them, so in a cluster every instance keeps its own connection (no
//     cluster-wide lease): at most 10 instances in Socket Mode.
//
// What is delivered (inbound.go): consumer messages (plain, file_share,
// thread_broadcast, me_message; app_mention with the app's own @-mention
// removed) with their files fetched using the bot token; edits as edited
// messages (edited_messages: ignore drops them); button clicks
// (block_actions) as choices. Dropped on purpose: anything with bot_id or
// subtype bot_message (the app's own posts echo back), messages by the
// app's bot user, deletions (LiveEngage cannot delete), joins, topics and
// other subtypes, reactions. The event id is Slack's event_id, so Slack's
// retries are dropped by the core; a recently delivered event (or the same
// post seen as both app_mention and message) is also skipped here.
//
// Sending (send.go): chat.postMessage with texts split at 4000 characters,
// in the conversation's thread when conversation_scope is thread; files by
// files.getUploadURLExternal, upload, files.completeUploadExternal; quick
// replies and buttons as Block Kit buttons whose value is the choice id
// (the core's own, by which it reports a click with the element's click
// metadata).
//
// In a DM the consumer's profile comes from users.info (profiles.go:
// names, title, locale, and email where the app has users:read.email;
// cached an hour), for the SDEs the core sends with a new conversation. A
// failed lookup leaves the profile as the event gave it.
//
// Slack apps have no typing indicator and no read receipts (§2.9), so the
// adapter declares neither.
//
// Errors (api.go, classify): 429 → retry after Retry-After; ok:false
// errors → permanent with a reason (channel_not_found, not_in_channel,
// invalid_auth ...) unless Slack's own trouble (internal_error,
// fatal_error, service_unavailable, request_timeout). Calls wait for the
// per-method tiers and chat.postMessage's per-channel rate (ratelimit.go).
//
// Where to start reading: adapter.go (lifecycle), then inbound.go and send.go.
package slack
