// Package store is the durable state of the conversation engine: who each
// channel consumer is in LiveEngage, which conversation is open for them,
// which platform message is which LiveEngage sequence (for receipts), which
// events were already accepted (dedupe), and the two queues between the
// channels and LiveEngage, with a dead-letter list for what cannot be
// delivered.
//
// Where to start reading: store.go defines the Store interface and its parts
// (Consumers, ConsumerTokens, Links, Queue with Leases, DeadLetters) with their contracts.
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
//     across restarts; one key is held by one owner at a time. Exactly-once as people see it comes from the dedupe
//     keys plus idempotent delivery downstream.
//
// # Consuming a queue
//
// Work is handed out by key under leases (Queue.Leases), so several
// processes can share a queue and per-key order is the store's guarantee:
//
//	mark := q.Last()
//	claims, _ := q.Leases().Claim(ctx, owner, freeWorkers, 100, ttl)
//	// each claim to a worker: its items in order, Ack(lease, seq, effects)
//	// each; an ack that reports drained released the key; otherwise read on
//	// with Items(lease, lastSeq, n); Extend the lease every ttl/3
//	// nothing claimed: q.Wait(ctx, mark), or a worker giving a key back
//
// Every write to an item carries the lease and is refused with
// ErrLeaseLost, changing nothing, once the lease lapsed or moved. A worker
// DeadLetters an item on a permanent failure (later items of the key then
// proceed). Before a side effect that must not be repeated blindly
// (publishing to LiveEngage) it may call MarkAttempted: after a crash or a
// takeover, Item.Attempts > 0 tells the next holder to check whether the
// effect already happened. Everything not acked is claimed again after a
// restart, in the original order. conversation's dispatcher is the
// production consumer; storetest's LeaseManyOwners a small one.
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
