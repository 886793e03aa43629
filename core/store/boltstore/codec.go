package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/leconnect/leconnect/core/store"
)

// Bucket names. The layout is described in doc.go; changing it means a new
// schemaVersion and a migration in migrate.
var (
	bMeta      = []byte("meta")
	bConsumers = []byte("consumers")
	bOwners    = []byte("owners")
	bChoices   = []byte("choices")      // added in schema 1 without a bump, like participants
	bParts     = []byte("participants") // added in schema 1 without a bump: created when missing, only read through ConsumerByParticipant
	bTokens    = []byte("tokens")
	bLinks     = []byte("links")
	bLinkSeq   = []byte("linkseq")
	bExpiry    = []byte("expiry")
	bDLQ       = []byte("dlq")

	allBuckets = [][]byte{bMeta, bConsumers, bOwners, bParts, bChoices, bEchoes, bHandled, bUnowned, bTokens, bLinks, bLinkSeq, bExpiry, bDLQ, bSends,
		queueBucket(store.Inbound), queueBucket(store.Outbound),
		dedupeBucket(store.Inbound), dedupeBucket(store.Outbound)}

	keySchema = []byte("schema")
)

func queueBucket(q store.QueueName) []byte  { return []byte("queue." + string(q)) }
func dedupeBucket(q store.QueueName) []byte { return []byte("dedupe." + string(q)) }
func depthKey(q store.QueueName) []byte     { return []byte("depth." + string(q)) }

// Expiry index kinds: the byte after the timestamp says which bucket the
// rest of the key belongs to.
const (
	kindDedupeInbound  byte = 'i'
	kindDedupeOutbound byte = 'o'
	kindLink           byte = 'l'
	kindOwner          byte = 'c'
	kindChoice         byte = 'h'
)

func dedupeKind(q store.QueueName) byte {
	if q == store.Inbound {
		return kindDedupeInbound
	}
	return kindDedupeOutbound
}

// recordVersion is written as "v" in every JSON value. A reader refuses
// versions it does not know instead of misreading them.
const recordVersion = 1

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func readU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// appendStr appends a length-prefixed string, so composite keys are
// unambiguous and a key prefix selects exactly one leading component tuple.
func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func identityKey(id store.Identity) []byte {
	return appendStr(appendStr(nil, id.Channel), id.ConsumerID)
}

func linkKey(channel, chat, msg string) []byte {
	return appendStr(appendStr(appendStr(nil, channel), chat), msg)
}

// linkSeqPrefix selects every reverse entry of one LiveEngage message.
func linkSeqPrefix(conv string, seq int64) []byte {
	return binary.BigEndian.AppendUint64(appendStr(nil, conv), uint64(seq))
}

// expiryKey sorts by expiry time (unix nanoseconds, big-endian) so a sweep
// reads only what is due.
func expiryKey(exp time.Time, kind byte, key []byte) []byte {
	b := make([]byte, 0, 9+len(key))
	b = binary.BigEndian.AppendUint64(b, uint64(exp.UnixNano()))
	b = append(b, kind)
	return append(b, key...)
}

func splitExpiryKey(k []byte) (exp int64, kind byte, key []byte, ok bool) {
	if len(k) < 9 {
		return 0, 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(k)), k[8], k[9:], true
}

type consumerRec struct {
	V int `json:"v"`
	store.Consumer
}

// ownerRec: RetiredUntil (unix ns) is 0 while the conversation is the
// consumer's current one.
type ownerRec struct {
	V            int            `json:"v"`
	Identity     store.Identity `json:"identity"`
	RetiredUntil int64          `json:"retired_until,omitempty"`
}

type tokenRec struct {
	V     int    `json:"v"`
	Token string `json:"token"`
}

type linkRec struct {
	V int `json:"v"`
	store.MessageLink
	ExpiresAt int64 `json:"expires_at"` // unix nanoseconds
}

// itemRec omits Seq: it is the key.
type itemRec struct {
	V          int       `json:"v"`
	Key        string    `json:"key"`
	DedupeKey  string    `json:"dedupe_key,omitempty"`
	Sequence   *int64    `json:"sequence,omitempty"`
	Payload    []byte    `json:"payload"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	Attempts   int       `json:"attempts,omitempty"`
	Replays    int       `json:"replays,omitempty"`
}

type deadRec struct {
	V int `json:"v"`
	store.DeadLetter
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

// decode unmarshals a record and checks its version. The "v" field is read
// through the versioned interface so every record type is checked alike.
func decode(b []byte, v versioned) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	if got := v.version(); got != recordVersion {
		return fmt.Errorf("decode record: version %d, want %d", got, recordVersion)
	}
	return nil
}

type versioned interface{ version() int }

func (r *consumerRec) version() int { return r.V }
func (r *ownerRec) version() int    { return r.V }
func (r *tokenRec) version() int    { return r.V }
func (r *linkRec) version() int     { return r.V }
func (r *choiceRec) version() int   { return r.V }
func (r *itemRec) version() int     { return r.V }
func (r *deadRec) version() int     { return r.V }

func itemToRec(it store.Item) itemRec {
	return itemRec{V: recordVersion, Key: it.Key, DedupeKey: it.DedupeKey, Sequence: it.Sequence, Payload: it.Payload, EnqueuedAt: it.EnqueuedAt, Attempts: it.Attempts, Replays: it.Replays}
}

func recToItem(seq uint64, r itemRec) store.Item {
	return store.Item{Seq: seq, Key: r.Key, DedupeKey: r.DedupeKey, Sequence: r.Sequence, Payload: r.Payload, EnqueuedAt: r.EnqueuedAt, Attempts: r.Attempts, Replays: r.Replays}
}
