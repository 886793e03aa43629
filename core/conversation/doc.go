// Package conversation is the core's engine: it moves consumer events from
// channel adapters to LiveEngage and agent events from LiveEngage to channel
// adapters, with nothing lost, nothing doubled and order kept per
// conversation, through crashes and outages.
//
// Both directions have the same shape: accept and commit to the store
// (deduplicated), acknowledge, then deliver from the store with per-key
// ordered workers (dispatch.go) that retry transient failures and move
// permanent ones to the dead-letter list.
//
//   - Inbound (inbound.go): Host.Deliver → Engine.Accept → inbound queue,
//     keyed by channel + consumer → get or open the LiveEngage conversation
//     and publish text, files, choices, typing, receipts; end keyword; CSAT.
//   - Outbound (outbound.go): POST /webhooks/liveperson → verified →
//     outbound queue, keyed by conversation → adapter Send / SetTyping /
//     MarkRead; closing message and CSAT prompt when the agent closes.
//
// Exactly once across crashes: every hop is at-least-once with a dedupe key
// (channel + platform event id inbound, conversation + sequence outbound).
// Where a crash leaves it unknown whether LiveEngage took a publish, the
// engine recognises LiveEngage's echo of the consumer event by the metadata
// id it attached (echo.go) before publishing again; adapters built on the SDK
// answer a repeated Send from their journal.
//
// Start reading at Engine (engine.go).
package conversation
