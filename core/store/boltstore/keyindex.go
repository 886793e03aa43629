package boltstore

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
)

// The key index (schema 3) makes a claim cost what it hands out instead of
// the queue's length: a flood of one busy conversation's items no longer
// has to be read past to find the next free key.
//
//	keys.<queue>   str(key) u64(seq) -> empty, one per pending item
//	heads.<queue>  u64(seq) -> key, one per key with pending items: its oldest
//
// Every write that adds or removes a queue item keeps both in the same
// transaction (indexAdd, indexRemove).

func keysBucket(q store.QueueName) []byte  { return []byte("keys." + string(q)) }
func headsBucket(q store.QueueName) []byte { return []byte("heads." + string(q)) }

// indexAdd records item seq of key; seq must be above every pending seq of
// the queue (a new item: enqueued or replayed).
func indexAdd(tx *bolt.Tx, q store.QueueName, key string, seq uint64) error {
	kb := tx.Bucket(keysBucket(q))
	prefix := appendStr(nil, key)
	if k, _ := kb.Cursor().Seek(prefix); k == nil || !bytes.HasPrefix(k, prefix) {
		if err := tx.Bucket(headsBucket(q)).Put(u64(seq), []byte(key)); err != nil {
			return err
		}
	}
	return kb.Put(binary.BigEndian.AppendUint64(prefix, seq), []byte{})
}

// indexRemove forgets item seq of key; drained reports that key has no
// pending item left.
func indexRemove(tx *bolt.Tx, q store.QueueName, key string, seq uint64) (drained bool, err error) {
	kb, hb := tx.Bucket(keysBucket(q)), tx.Bucket(headsBucket(q))
	prefix := appendStr(nil, key)
	if err := kb.Delete(binary.BigEndian.AppendUint64(prefix, seq)); err != nil {
		return false, err
	}
	next := keySeqs(kb, prefix, 0, 1)
	if hb.Get(u64(seq)) != nil {
		if err := hb.Delete(u64(seq)); err != nil {
			return false, err
		}
		if len(next) > 0 {
			if err := hb.Put(u64(next[0]), []byte(key)); err != nil {
				return false, err
			}
		}
	}
	return len(next) == 0, nil
}

// keySeqs returns up to limit (all when limit <= 0) pending seqs above after
// of the key whose str() is prefix, in order.
func keySeqs(kb *bolt.Bucket, prefix []byte, after uint64, limit int) []uint64 {
	var out []uint64
	c := kb.Cursor()
	for k, _ := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), after+1)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
		out = append(out, readU64(k[len(prefix):]))
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}

// keyItems reads up to limit items of key above after, in order.
func keyItems(tx *bolt.Tx, q store.QueueName, key string, after uint64, limit int) ([]store.Item, error) {
	qb := tx.Bucket(queueBucket(q))
	seqs := keySeqs(tx.Bucket(keysBucket(q)), appendStr(nil, key), after, limit)
	out := make([]store.Item, 0, len(seqs))
	for _, seq := range seqs {
		var rec itemRec
		if err := decode(qb.Get(u64(seq)), &rec); err != nil {
			return nil, err
		}
		out = append(out, recToItem(seq, rec))
	}
	return out, nil
}

// buildKeyIndex is schema 2 → 3: index every pending item, in seq order.
func buildKeyIndex(tx *bolt.Tx) error {
	for _, q := range []store.QueueName{store.Inbound, store.Outbound} {
		c := tx.Bucket(queueBucket(q)).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec itemRec
			if err := decode(v, &rec); err != nil {
				return err
			}
			if err := indexAdd(tx, q, rec.Key, readU64(k)); err != nil {
				return err
			}
		}
	}
	return nil
}
