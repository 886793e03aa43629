package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
)

// bSends is the adapters' send journal: str(channel) str(key) -> JSON
// sendRec. Added in schema 3 without a bump: created when missing, unknown
// to older binaries.
var bSends = []byte("sends")

const kindSend byte = 'j'

type sendRec struct {
	V         int      `json:"v"`
	IDs       []string `json:"ids"`
	ExpiresAt int64    `json:"expires_at"`
	// Begun is set (Unix ns) while the send is only begun: BeginSend's
	// intent, in doubt if no RecordSend or AbandonSend follows.
	Begun int64 `json:"begun,omitempty"`
}

func (r *sendRec) version() int { return r.V }

func sendKeyOf(channel, key string) []byte {
	return appendStr(appendStr(nil, channel), key)
}

// getSend reads key's record; ok is false when there is none.
func getSend(tx *bolt.Tx, k []byte) (rec sendRec, ok bool, err error) {
	v := tx.Bucket(bSends).Get(k)
	if v == nil {
		return rec, false, nil
	}
	return rec, true, decode(v, &rec)
}

// putSend writes rec under k with its expiry entry.
func putSend(tx *bolt.Tx, k []byte, rec sendRec) error {
	v, err := encode(rec)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bSends).Put(k, v); err != nil {
		return err
	}
	return tx.Bucket(bExpiry).Put(expiryKey(time.Unix(0, rec.ExpiresAt), kindSend, k), []byte{})
}

// RecordSend implements store.SendJournal.
func (s *Store) RecordSend(ctx context.Context, channel, key string, messageIDs []string) error {
	if err := store.ValidateSend(channel, key); err != nil {
		return err
	}
	rec := sendRec{V: recordVersion, IDs: messageIDs, ExpiresAt: s.now().Add(s.opts.LinkTTL).UnixNano()}
	k := sendKeyOf(channel, key)
	if err := s.write(ctx, func(tx *bolt.Tx) error { return putSend(tx, k, rec) }); err != nil {
		return fmt.Errorf("record send %q: %w", key, err)
	}
	return nil
}

// LookupSend implements store.SendJournal.
func (s *Store) LookupSend(ctx context.Context, channel, key string) ([]string, bool, error) {
	st, err := s.SendState(ctx, channel, key)
	return st.MessageIDs, st.Sent, err
}

// BeginSend implements store.SendJournal.
func (s *Store) BeginSend(ctx context.Context, channel, key string) error {
	if err := store.ValidateSend(channel, key); err != nil {
		return err
	}
	k := sendKeyOf(channel, key)
	err := s.write(ctx, func(tx *bolt.Tx) error {
		now := s.now()
		rec, ok, err := getSend(tx, k)
		if err != nil || (ok && now.UnixNano() < rec.ExpiresAt) {
			return err // recorded, or begun already
		}
		return putSend(tx, k, sendRec{V: recordVersion, ExpiresAt: now.Add(s.opts.LinkTTL).UnixNano(), Begun: now.UnixNano()})
	})
	if err != nil {
		return fmt.Errorf("begin send %q: %w", key, err)
	}
	return nil
}

// AbandonSend implements store.SendJournal. The expiry entry stays; the
// purge finds no record to delete.
func (s *Store) AbandonSend(ctx context.Context, channel, key string) error {
	k := sendKeyOf(channel, key)
	err := s.write(ctx, func(tx *bolt.Tx) error {
		rec, ok, err := getSend(tx, k)
		if err != nil || !ok || rec.Begun == 0 {
			return err // none, or recorded: it went out
		}
		return tx.Bucket(bSends).Delete(k)
	})
	if err != nil {
		return fmt.Errorf("abandon send %q: %w", key, err)
	}
	return nil
}

// SendState implements store.SendJournal.
func (s *Store) SendState(ctx context.Context, channel, key string) (store.SendState, error) {
	var st store.SendState
	err := s.read(ctx, func(tx *bolt.Tx) error {
		rec, ok, err := getSend(tx, sendKeyOf(channel, key))
		switch {
		case err != nil || !ok || s.now().UnixNano() >= rec.ExpiresAt:
			return err
		case rec.Begun != 0:
			st = store.SendState{InDoubt: true, Begun: time.Unix(0, rec.Begun)}
		default:
			st = store.SendState{Sent: true, MessageIDs: rec.IDs}
		}
		return nil
	})
	if err != nil {
		return store.SendState{}, fmt.Errorf("read send %q: %w", key, err)
	}
	return st, nil
}

// purgeSend deletes an expired journal entry unless it was recorded again.
func purgeSend(tx *bolt.Tx, exp int64, key []byte) (bool, error) {
	rec, ok, err := getSend(tx, key)
	if err != nil || !ok || rec.ExpiresAt != exp {
		return false, err
	}
	return true, tx.Bucket(bSends).Delete(key)
}
