package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leconnect/leconnect/core/store"
)

// Delivery state buckets (see doc.go).
var (
	bEchoes = []byte("echoes") // conversation NUL external id -> JSON {sequence, expires_at}
	// bEchoSeqs indexes echoes by sequence (added in schema 4 without a
	// bump: created when missing, and an echo recorded before it only
	// costs a reorder wait): linkSeqPrefix(conversation, sequence) ->
	// external id.
	bEchoSeqs = []byte("echoseqs")
	bHandled  = []byte("handled") // conversation -> JSON {sequence, expires_at}
	bUnowned  = []byte("unowned") // participant id -> JSON {conversation_id, expires_at}
)

// Expiry kinds of the delivery state.
const (
	kindEcho    byte = 'e'
	kindHandled byte = 's'
	kindUnowned byte = 'u'
)

type seqRec struct {
	V         int   `json:"v"`
	Sequence  int64 `json:"sequence"`
	ExpiresAt int64 `json:"expires_at"`
}

func (r *seqRec) version() int { return r.V }

type unownedRec struct {
	V              int    `json:"v"`
	ConversationID string `json:"conversation_id"`
	ExpiresAt      int64  `json:"expires_at"`
}

func (r *unownedRec) version() int { return r.V }

func echoKey(conv, ext string) []byte { return append(append([]byte(conv), 0), ext...) }

// putEffectsTx stores an ack's effects in tx; exp is when they expire.
func putEffectsTx(tx *bolt.Tx, exp time.Time, fx store.Effects) error {
	if err := putLinksTx(tx, exp, fx.Links); err != nil {
		return err
	}
	eb := tx.Bucket(bExpiry)
	put := func(b []byte, key []byte, kind byte, v any) error {
		enc, err := encode(v)
		if err != nil {
			return err
		}
		if err := tx.Bucket(b).Put(key, enc); err != nil {
			return err
		}
		return eb.Put(expiryKey(exp, kind, key), []byte{})
	}
	for _, e := range fx.Echoes {
		if err := putEchoSeqTx(tx, e); err != nil {
			return err
		}
		if err := put(bEchoes, echoKey(e.ConversationID, e.ExternalID), kindEcho,
			seqRec{V: recordVersion, Sequence: e.Sequence, ExpiresAt: exp.UnixNano()}); err != nil {
			return err
		}
	}
	if h := fx.Handled; h != nil {
		if v := tx.Bucket(bHandled).Get([]byte(h.ConversationID)); v != nil {
			var cur seqRec
			if err := decode(v, &cur); err != nil {
				return err
			}
			if cur.Sequence > h.Sequence {
				return nil // a later sequence was handled already
			}
		}
		if err := put(bHandled, []byte(h.ConversationID), kindHandled,
			seqRec{V: recordVersion, Sequence: h.Sequence, ExpiresAt: exp.UnixNano()}); err != nil {
			return err
		}
	}
	return nil
}

// putEchoSeqTx indexes e by its sequence, dropping the entry of an earlier
// sequence the same echo was recorded with.
func putEchoSeqTx(tx *bolt.Tx, e store.Echo) error {
	sb := tx.Bucket(bEchoSeqs)
	if v := tx.Bucket(bEchoes).Get(echoKey(e.ConversationID, e.ExternalID)); v != nil {
		var cur seqRec
		if err := decode(v, &cur); err != nil {
			return err
		}
		if cur.Sequence != e.Sequence {
			if err := dropEchoSeqTx(tx, e.ConversationID, e.ExternalID, cur.Sequence); err != nil {
				return err
			}
		}
	}
	return sb.Put(linkSeqPrefix(e.ConversationID, e.Sequence), []byte(e.ExternalID))
}

// dropEchoSeqTx removes the index entry of echo ext at seq, unless another
// echo holds that sequence now.
func dropEchoSeqTx(tx *bolt.Tx, conv, ext string, seq int64) error {
	sb := tx.Bucket(bEchoSeqs)
	key := linkSeqPrefix(conv, seq)
	if string(sb.Get(key)) != ext {
		return nil
	}
	return sb.Delete(key)
}

// RecordEchoes implements store.DeliveryState.
func (s *Store) RecordEchoes(ctx context.Context, echoes ...store.Echo) error {
	fx := store.Effects{Echoes: echoes}
	if err := fx.Validate(); err != nil {
		return err
	}
	if len(echoes) == 0 {
		return nil
	}
	exp := s.now().Add(s.opts.LinkTTL)
	if err := s.write(ctx, func(tx *bolt.Tx) error { return putEffectsTx(tx, exp, fx) }); err != nil {
		return fmt.Errorf("record echoes: %w", err)
	}
	s.stateChanged()
	return nil
}

// EchoedThrough implements store.DeliveryState.
func (s *Store) EchoedThrough(ctx context.Context, conversationID string, after int64) (int64, error) {
	through := after
	err := s.read(ctx, func(tx *bolt.Tx) error {
		eb, c := tx.Bucket(bEchoes), tx.Bucket(bEchoSeqs).Cursor()
		now := s.now().UnixNano()
		next := linkSeqPrefix(conversationID, through+1)
		for k, ext := c.Seek(next); bytes.Equal(k, next); k, ext = c.Next() {
			v := eb.Get(echoKey(conversationID, string(ext)))
			if v == nil {
				return nil
			}
			var rec seqRec
			if err := decode(v, &rec); err != nil {
				return err
			}
			if rec.ExpiresAt <= now {
				return nil
			}
			through++
			next = linkSeqPrefix(conversationID, through+1)
		}
		return nil
	})
	if err != nil {
		return after, fmt.Errorf("echoes in %s after %d: %w", conversationID, after, err)
	}
	return through, nil
}

// stateChanged wakes AwaitEcho and AwaitUnowned after a commit that wrote
// what they wait for.
func (s *Store) stateChanged() { s.stateSig.Advance(s.stateSeq.Add(1)) }

// await runs find until it finds something, waking on state changes, until
// deadline (ErrNotFound) or ctx's end.
func (s *Store) await(ctx context.Context, deadline time.Time, find func(tx *bolt.Tx, now int64) (bool, error)) error {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for {
		last := s.stateSig.Last()
		var found bool
		err := s.read(ctx, func(tx *bolt.Tx) error {
			var err error
			found, err = find(tx, s.now().UnixNano())
			return err
		})
		if err != nil || found {
			return err
		}
		if err := s.stateSig.Wait(wctx, last, store.ErrClosed); err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return store.ErrNotFound
			}
			return err
		}
	}
}

// AwaitEcho implements store.DeliveryState.
func (s *Store) AwaitEcho(ctx context.Context, conversationID, externalID string, deadline time.Time) (int64, error) {
	var seq int64
	err := s.await(ctx, deadline, func(tx *bolt.Tx, now int64) (bool, error) {
		v := tx.Bucket(bEchoes).Get(echoKey(conversationID, externalID))
		if v == nil {
			return false, nil
		}
		var rec seqRec
		if err := decode(v, &rec); err != nil {
			return false, err
		}
		seq = rec.Sequence
		return now < rec.ExpiresAt, nil
	})
	if err != nil {
		return 0, fmt.Errorf("echo %s in %s: %w", externalID, conversationID, err)
	}
	return seq, nil
}

// AwaitLink implements store.DeliveryState.
func (s *Store) AwaitLink(ctx context.Context, channel, chatID, channelMessageID string, deadline time.Time) (store.MessageLink, error) {
	var out store.MessageLink
	err := s.await(ctx, deadline, func(tx *bolt.Tx, now int64) (bool, error) {
		v := tx.Bucket(bLinks).Get(linkKey(channel, chatID, channelMessageID))
		if v == nil {
			return false, nil
		}
		var rec linkRec
		if err := decode(v, &rec); err != nil {
			return false, err
		}
		out = rec.MessageLink
		return now < rec.ExpiresAt, nil
	})
	if err != nil {
		return store.MessageLink{}, fmt.Errorf("message link %s/%s/%s: %w", channel, chatID, channelMessageID, err)
	}
	return out, nil
}

// LastHandled implements store.DeliveryState.
func (s *Store) LastHandled(ctx context.Context, conversationID string) (int64, bool, error) {
	var rec seqRec
	var found bool
	err := s.read(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bHandled).Get([]byte(conversationID))
		if v == nil {
			return nil
		}
		if err := decode(v, &rec); err != nil {
			return err
		}
		found = s.now().UnixNano() < rec.ExpiresAt
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("last handled in %s: %w", conversationID, err)
	}
	return rec.Sequence, found, nil
}

// PutUnowned implements store.DeliveryState.
func (s *Store) PutUnowned(ctx context.Context, participantID, conversationID string) error {
	if participantID == "" || conversationID == "" || len(participantID) > store.MaxKeyLen {
		return fmt.Errorf("unowned conversation: participant and conversation id are required: %w", store.ErrInvalid)
	}
	exp := s.now().Add(s.opts.LinkTTL)
	err := s.write(ctx, func(tx *bolt.Tx) error {
		v, err := encode(unownedRec{V: recordVersion, ConversationID: conversationID, ExpiresAt: exp.UnixNano()})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bUnowned).Put([]byte(participantID), v); err != nil {
			return err
		}
		return tx.Bucket(bExpiry).Put(expiryKey(exp, kindUnowned, []byte(participantID)), []byte{})
	})
	if err != nil {
		return fmt.Errorf("put unowned conversation: %w", err)
	}
	s.stateChanged()
	return nil
}

// AwaitUnowned implements store.DeliveryState.
func (s *Store) AwaitUnowned(ctx context.Context, participantID string, deadline time.Time) (string, error) {
	var conv string
	err := s.await(ctx, deadline, func(tx *bolt.Tx, now int64) (bool, error) {
		v := tx.Bucket(bUnowned).Get([]byte(participantID))
		if v == nil {
			return false, nil
		}
		var rec unownedRec
		if err := decode(v, &rec); err != nil {
			return false, err
		}
		conv = rec.ConversationID
		return now < rec.ExpiresAt, nil
	})
	if err != nil {
		return "", fmt.Errorf("unowned conversation of %s: %w", participantID, err)
	}
	return conv, nil
}

// purgeState deletes an expired delivery-state record of kind, unless it
// was refreshed since.
func purgeState(tx *bolt.Tx, exp int64, kind byte, key []byte) (bool, error) {
	var bucket *bolt.Bucket
	var rec interface {
		versioned
		expires() int64
	}
	switch kind {
	case kindUnowned:
		bucket, rec = tx.Bucket(bUnowned), &unownedRec{}
	case kindEcho:
		bucket, rec = tx.Bucket(bEchoes), &seqRec{}
	default:
		bucket, rec = tx.Bucket(bHandled), &seqRec{}
	}
	v := bucket.Get(key)
	if v == nil {
		return false, nil
	}
	if err := decode(v, rec); err != nil {
		return false, err
	}
	if rec.expires() != exp {
		return false, nil // refreshed since
	}
	if kind == kindEcho {
		conv, ext, _ := bytes.Cut(key, []byte{0})
		if err := dropEchoSeqTx(tx, string(conv), string(ext), rec.(*seqRec).Sequence); err != nil {
			return false, err
		}
	}
	return true, bucket.Delete(key)
}

func (r *seqRec) expires() int64     { return r.ExpiresAt }
func (r *unownedRec) expires() int64 { return r.ExpiresAt }

// migrateReservedLinks is schema 1 → 2: the engine kept its delivery state
// as message links of reserved channels ("\x00echo", "\x00last",
// "\x00adopt"); they become the typed records, with their expiry.
func migrateReservedLinks(tx *bolt.Tx) error {
	lb, rb, eb := tx.Bucket(bLinks), tx.Bucket(bLinkSeq), tx.Bucket(bExpiry)
	var done [][]byte
	c := lb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec linkRec
		if err := decode(v, &rec); err != nil {
			return err
		}
		exp := time.Unix(0, rec.ExpiresAt)
		var err error
		switch rec.Channel {
		case "\x00echo":
			err = putEffectsTx(tx, exp, store.Effects{Echoes: []store.Echo{{ConversationID: rec.ChatID, ExternalID: rec.ChannelMessageID, Sequence: rec.Sequence}}})
		case "\x00last":
			err = putEffectsTx(tx, exp, store.Effects{Handled: &store.Handled{ConversationID: rec.ChannelMessageID, Sequence: rec.Sequence}})
		case "\x00adopt":
			var enc []byte
			if enc, err = encode(unownedRec{V: recordVersion, ConversationID: rec.ConversationID, ExpiresAt: rec.ExpiresAt}); err == nil {
				if err = tx.Bucket(bUnowned).Put([]byte(rec.ChannelMessageID), enc); err == nil {
					err = eb.Put(expiryKey(exp, kindUnowned, []byte(rec.ChannelMessageID)), []byte{})
				}
			}
		default:
			continue
		}
		if err != nil {
			return err
		}
		if err := rb.Delete(append(linkSeqPrefix(rec.ConversationID, rec.Sequence), k...)); err != nil {
			return err
		}
		done = append(done, append([]byte(nil), k...))
	}
	for _, k := range done {
		if err := lb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
