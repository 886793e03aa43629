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

// RecordSend implements store.SendJournal.
func (s *Store) RecordSend(ctx context.Context, channel, key string, messageIDs []string) error {
	if err := store.ValidateSend(channel, key); err != nil {
		return err
	}
	exp := s.now().Add(s.opts.LinkTTL)
	k := sendKeyOf(channel, key)
	v, err := encode(sendRec{V: recordVersion, IDs: messageIDs, ExpiresAt: exp.UnixNano()})
	if err != nil {
		return err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bSends).Put(k, v); err != nil {
			return err
		}
		return tx.Bucket(bExpiry).Put(expiryKey(exp, kindSend, k), []byte{})
	})
	if err != nil {
		return fmt.Errorf("record send %q: %w", key, err)
	}
	return nil
}

// LookupSend implements store.SendJournal.
func (s *Store) LookupSend(ctx context.Context, channel, key string) ([]string, bool, error) {
	var rec sendRec
	found := false
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bSends).Get(sendKeyOf(channel, key))
		if v == nil {
			return nil
		}
		if err := decode(v, &rec); err != nil {
			return err
		}
		found = s.now().UnixNano() < rec.ExpiresAt && rec.Begun == 0
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("look up send %q: %w", key, err)
	}
	if !found {
		return nil, false, nil
	}
	return rec.IDs, true, nil
}

// BeginSend implements store.SendJournal.
func (s *Store) BeginSend(ctx context.Context, channel, key string) error {
	if err := store.ValidateSend(channel, key); err != nil {
		return err
	}
	k := sendKeyOf(channel, key)
	err := s.write(ctx, func(tx *bolt.Tx) error {
		now := s.now()
		if v := tx.Bucket(bSends).Get(k); v != nil {
			var rec sendRec
			if err := decode(v, &rec); err != nil {
				return err
			}
			if now.UnixNano() < rec.ExpiresAt {
				return nil // recorded, or begun already
			}
		}
		exp := now.Add(s.opts.LinkTTL)
		v, err := encode(sendRec{V: recordVersion, ExpiresAt: exp.UnixNano(), Begun: now.UnixNano()})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bSends).Put(k, v); err != nil {
			return err
		}
		return tx.Bucket(bExpiry).Put(expiryKey(exp, kindSend, k), []byte{})
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
		v := tx.Bucket(bSends).Get(k)
		if v == nil {
			return nil
		}
		var rec sendRec
		if err := decode(v, &rec); err != nil {
			return err
		}
		if rec.Begun == 0 {
			return nil // recorded: it went out
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
		v := tx.Bucket(bSends).Get(sendKeyOf(channel, key))
		if v == nil {
			return nil
		}
		var rec sendRec
		if err := decode(v, &rec); err != nil {
			return err
		}
		switch {
		case s.now().UnixNano() >= rec.ExpiresAt:
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
	b := tx.Bucket(bSends)
	v := b.Get(key)
	if v == nil {
		return false, nil
	}
	var rec sendRec
	if err := decode(v, &rec); err != nil {
		return false, err
	}
	if rec.ExpiresAt != exp {
		return false, nil
	}
	return true, b.Delete(key)
}
