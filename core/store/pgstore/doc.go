// Package pgstore is the PostgreSQL store.Store, the one several leconnect
// instances share. Start reading at Open (pg.go), then schema.go (the
// tables and their migrations) and queue.go (queues, leases, dead letters).
//
// # Guarantees
//
// Every write is one PostgreSQL transaction, committed (with the server's
// fsync) before the method returns. Times come from store.Options.Now, not
// the server's clock, so every instance must run NTP like any cluster.
//
// # Queues and leases
//
// Items live in one table ordered by a sequence; a key's lease is a row
// (owner, fencing token from a sequence, expiry). Claim takes the oldest
// keys with no live lease with INSERT ... ON CONFLICT DO UPDATE WHERE the
// lease lapsed: under PostgreSQL's row locks a second claimer of the same
// key waits for the first and then finds the lease live, so no key ever has
// two holders. Fenced writes lock the lease row (FOR UPDATE) and check
// owner, token and expiry in the same transaction.
//
// # Wake-ups
//
// Commits that someone may be waiting for (new items; echoes, links and
// unowned conversations) NOTIFY the channel "leconnect"; every instance
// LISTENs on a connection of its own and wakes its waiters. A poll every
// Options.PollInterval (and every reconnect of the listener) wakes them too,
// in case a notification was missed. Queue.Last is therefore a wake mark
// (a count of wake-ups), not the highest Seq.
//
// # Schema
//
// Tables are created and migrated at Open under a transaction-level
// advisory lock, so instances starting together migrate once. The version
// is in leconnect_schema; a binary refuses a newer one (ErrSchemaTooNew).
package pgstore
