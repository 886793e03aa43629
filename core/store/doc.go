// Package store is the durable state of the conversation engine: who each
// channel consumer is in LiveEngage, which conversation is open for them,
// which platform message is which LiveEngage sequence (for receipts), which
// events were already accepted (dedupe), and the two queues between the
// channels and LiveEngage, with a dead-letter list for what cannot be
// delivered.
//
// Where to start reading: store.go defines the Store interface and its parts
// (Consumers, ConsumerTokens, Links, Queue, DeadLetters) with their contracts.
// The embedded default is package boltstore (one bbolt file, no server);
// Memory (memory.go) is the in-memory fake for engine unit tests; package
// storetest is the conformance suite both pass, so the fake cannot drift.
//
// # Guarantees
//
//   - Commit before acknowledging: every write method returns only after its
//     transaction is on stable storage (boltstore: fdatasync). A nil error
//     from Enqueue means the items survive kill -9 and power loss.
//   - Enqueue is all-or-nothing per call, and its dedupe checks are part of
//     the same transaction: a message whose DedupeKey was accepted by the
//     same queue within its TTL is skipped and reported as Duplicate.
//   - Order: Seq is strictly increasing per queue in commit order and never
//     reused. An Enqueue call that returned before another started has the
//     lower Seqs; within one call, slice order. Concurrent calls are ordered
//     arbitrarily, so one producer per Key at a time gets strict FIFO.
//   - At-least-once hand-out: an item stays pending until Ack or DeadLetter,
//     across restarts. Exactly-once as people see it comes from the dedupe
//     keys plus idempotent delivery downstream.
//
// # Consuming a queue
//
// One dispatcher per queue keeps a cursor (the last Seq it read) and loops:
//
//	items, _ := q.Pending(ctx, cursor, 256)   // in Seq order
//	// append each item to a per-Key FIFO; advance cursor
//	// hand the head of every idle Key to a worker (at most one in flight per Key)
//	// when caught up: q.Wait(ctx, cursor), or a worker finishing
//
// A worker calls Ack when the item is done, or DeadLetter(seq, reason) on a
// permanent failure (later items of the same Key then proceed). Before a
// side effect that must not be repeated blindly (publishing to LiveEngage)
// it may call MarkAttempted: after a crash, Item.Attempts > 0 tells the next
// worker to check whether the effect already happened. On start the
// cursor is 0, so everything not acked before a crash is handed out again,
// in the original order. storetest's Dispatch test is a working example.
//
// # Dead letters and replay
//
// DeadLetters is one list for both queues (`leconnect dlq list | replay |
// drop`). Replay appends the item to the tail of its queue with a new Seq:
// it is handed out after whatever is already queued for its Key, never ahead
// of newer messages, and a dispatcher reading forward from its cursor sees
// it. Dedupe keys are not checked on replay and not released on drop.
//
// # Expiry
//
// Dedupe keys expire after Options.DedupeTTL (or Message.DedupeTTL), message
// links after Options.LinkTTL. Expired entries are ignored at once and
// deleted later by PurgeExpired, which does a bounded amount of work per
// transaction (boltstore runs it in the background).
package store
