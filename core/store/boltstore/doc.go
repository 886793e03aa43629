// Package boltstore is the embedded default store.Store: one bbolt file,
// pure Go, no server, no setup. Start reading at Open (bolt.go), then
// commit.go (group commit) and queue.go (queues and dead letters).
//
// # Durability
//
// Every write runs in a bbolt read-write transaction whose commit
// fdatasyncs the file (NoSync is never set) before the call returns. Writes
// are group-committed (commit.go): one goroutine commits transactions back
// to back, each carrying every write call that arrived during the previous
// fsync, so a lone call costs one fsync and concurrent callers share them.
// A call whose function fails is rolled back and re-run alone; the others in
// its batch are re-run without it, so write functions must be idempotent
// apart from their effect on the transaction.
//
// The file is created (mode 0600: it holds consumer JWS) with its parent
// directories if missing. bbolt takes an exclusive flock: a second process
// gets store.ErrLocked after Options.LockTimeout, with the path in the
// error. So `leconnect dlq` must run while the daemon is stopped, or go
// through the daemon.
//
// # Layout (schema version 4)
//
// Integers in keys are 8-byte big-endian so byte order is numeric order;
// strings inside composite keys are uvarint-length-prefixed (written
// str(x) below) so keys are unambiguous and prefix scans exact.
//
//	meta             "schema" -> "4" (decimal); "depth.<queue>" -> u64 pending count;
//	                 "lease_epoch" -> u64, one more at every Open (keytable.go)
//	consumers        str(channel) str(consumer id) -> JSON consumer record
//	owners           conversation id -> JSON {identity, retired_until}: ConversationOwner
//	participants     LiveEngage consumer participant id -> JSON {identity}: ConsumerByParticipant
//	choices          identity key NUL choice id -> JSON store.Choice + expires_at: GetChoice
//	tokens           ext_consumer_id -> JSON {token}
//	links            str(channel) str(chat id) str(message id) -> JSON link + expires_at
//	linkseq          str(conversation id) u64(sequence) <links key> -> empty (reverse index)
//	echoes           conversation id NUL external id -> JSON {sequence, expires_at}: AwaitEcho
//	echoseqs         str(conversation id) u64(sequence) -> external id: EchoedThrough
//	                 (dropped with its echo; an echo recorded before it existed has none)
//	handled          conversation id -> JSON {sequence, expires_at}: LastHandled
//	unowned          participant id -> JSON {conversation id, expires_at}: AwaitUnowned
//	dedupe.inbound   dedupe key -> u64 expiry (unix ns)
//	dedupe.outbound  dedupe key -> u64 expiry (unix ns)
//	expiry           u64(expiry unix ns) kind <key> -> empty; kind 'i'/'o' = dedupe
//	                 inbound/outbound, 'l' = links, 'c' = retired owners, 'h' = choices,
//	                 'e'/'s'/'u' = echoes/handled/unowned, 'j' = sends.
//	                 PurgeExpired reads it from the start.
//	queue.inbound    u64(seq) -> item (bucket sequence = last seq, NextSequence)
//	queue.outbound   u64(seq) -> item
//	dlq              u64(id) -> JSON dead letter
//	sends            str(channel) str(idempotency key) -> JSON {ids, expires_at}:
//	                 the adapters' send journal (journal.go)
//
// Queue items are binary (codec.go, encodeItem); every other value is JSON.
// JSON values carry "v": 1; a reader refuses versions it does not know.
// testdata/records-v1.txt pins the encoding. Open refuses a file whose
// schema version is newer than this binary's (store.ErrSchemaTooNew);
// migrations from older versions go in (*Store).migrate.
//
// Schema 2 (from schema 1, at Open, in one transaction): queue items carry
// the LiveEngage sequence as their own field ("sequence"); schema 1 kept it
// only in an outbound item's dedupe key, from which migrateSequences reads
// it once, for pending items and dead letters alike. The participants,
// choices and lease buckets came without a version change: created when
// missing, unknown to older binaries.
//
// Schema 3 (from 2, at Open): the lease.<queue> buckets are dropped.
// Leases and the per-key index of pending items live in memory (keytable.go:
// the file is locked to one process, so no lease is ever shared or
// outlives its process), rebuilt from the queue buckets at every Open;
// fencing tokens stay unique across opens through meta's lease_epoch.
//
// Schema 4 (from 3, at Open, no rewrite): queue items are written in a
// binary encoding (a 0x02 byte, the fields, the payload as it is) instead
// of JSON, whose base64 of the payload was most of what enqueueing,
// marking and claiming an item cost; JSON items written before still read
// (decodeItem), and an older binary refuses the file instead of misreading it.
//
// Payloads are stored whole: keep media out of queue items (store a
// reference) or keep them small; bbolt handles values of megabytes but every
// write transaction copies the pages it touches.
package boltstore
