package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
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

	allBuckets = [][]byte{bMeta, bConsumers, bOwners, bParts, bChoices, bEchoes, bEchoSeqs, bHandled, bUnowned, bTokens, bLinks, bLinkSeq, bExpiry, bDLQ, bSends,
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

// itemBinary starts a queue item in the binary encoding (schema 4); JSON
// items (schema 3 and before, still read) start with '{'. Items are
// written at every enqueue and attempt and read at every claim, and JSON
// spent most of that in base64 of the payload:
//
//	0x02 str(key) str(dedupe key) [0 | 1 varint(sequence)]
//	varint(enqueued at, unix ns) uvarint(attempts) uvarint(replays) payload
//
// The payload runs to the end of the value.
const itemBinary = 0x02

func encodeItem(r itemRec) []byte {
	b := make([]byte, 0, 32+len(r.Key)+len(r.DedupeKey)+len(r.Payload))
	b = appendStr(appendStr(append(b, itemBinary), r.Key), r.DedupeKey)
	if r.Sequence == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendVarint(append(b, 1), *r.Sequence)
	}
	b = binary.AppendVarint(b, r.EnqueuedAt.UnixNano())
	b = binary.AppendUvarint(binary.AppendUvarint(b, uint64(r.Attempts)), uint64(r.Replays))
	return append(b, r.Payload...)
}

// decodeItem reads an item in either encoding. Nothing of the result
// aliases b (bbolt's memory is only valid within its transaction).
func decodeItem(b []byte) (itemRec, error) {
	if len(b) > 0 && b[0] == '{' {
		var r itemRec
		err := decode(b, &r)
		return r, err
	}
	if len(b) == 0 || b[0] != itemBinary {
		return itemRec{}, errors.New("decode record: not an item in a known encoding")
	}
	d := byteReader{b: b[1:]}
	r := itemRec{V: recordVersion, Key: d.str(), DedupeKey: d.str()}
	if d.byte() == 1 {
		seq := d.varint()
		r.Sequence = &seq
	}
	r.EnqueuedAt = time.Unix(0, d.varint()).UTC()
	r.Attempts, r.Replays = int(d.uvarint()), int(d.uvarint())
	if d.err != nil {
		return itemRec{}, fmt.Errorf("decode record: item: %w", d.err)
	}
	if len(d.b) > 0 { // an empty payload reads as none
		r.Payload = bytes.Clone(d.b)
	}
	return r, nil
}

// byteReader reads the binary encoding; the first failure sticks in err.
type byteReader struct {
	b   []byte
	err error
}

func (d *byteReader) fail() {
	if d.err == nil {
		d.err = errors.New("truncated")
	}
	d.b = nil
}

// skip moves past a field of n bytes; n <= 0 is a varint that did not read.
func (d *byteReader) skip(n int) {
	if n <= 0 {
		d.fail()
		return
	}
	d.b = d.b[n:]
}

func (d *byteReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	d.skip(n)
	return v
}

func (d *byteReader) varint() int64 {
	v, n := binary.Varint(d.b)
	d.skip(n)
	return v
}

func (d *byteReader) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *byteReader) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func itemToRec(it store.Item) itemRec {
	return itemRec{V: recordVersion, Key: it.Key, DedupeKey: it.DedupeKey, Sequence: it.Sequence, Payload: it.Payload, EnqueuedAt: it.EnqueuedAt, Attempts: it.Attempts, Replays: it.Replays}
}

func recToItem(seq uint64, r itemRec) store.Item {
	return store.Item{Seq: seq, Key: r.Key, DedupeKey: r.DedupeKey, Sequence: r.Sequence, Payload: r.Payload, EnqueuedAt: r.EnqueuedAt, Attempts: r.Attempts, Replays: r.Replays}
}
