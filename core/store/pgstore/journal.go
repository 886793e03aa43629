package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leconnect/leconnect/core/store"
)

// RecordSend implements store.SendJournal in one round trip.
func (s *Store) RecordSend(ctx context.Context, channel, key string, messageIDs []string) error {
	if err := store.ValidateSend(channel, key); err != nil {
		return err
	}
	if messageIDs == nil {
		messageIDs = []string{}
	}
	ids, err := json.Marshal(messageIDs)
	if err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	_, err = s.pool.Exec(ctx, `INSERT INTO send_journal (channel, key, message_ids, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (channel, key) DO UPDATE SET message_ids = excluded.message_ids, expires_at = excluded.expires_at, begun_at = NULL`,
		channel, []byte(key), ids, s.now().Add(s.opts.LinkTTL))
	if err != nil {
		return fmt.Errorf("record send %q: %w", key, err)
	}
	return nil
}

// LookupSend implements store.SendJournal.
func (s *Store) LookupSend(ctx context.Context, channel, key string) ([]string, bool, error) {
	st, err := s.SendState(ctx, channel, key)
	return st.MessageIDs, st.Sent, err
}

// BeginSend implements store.SendJournal in one round trip: a row that is
// live (recorded, or begun already) is left alone.
func (s *Store) BeginSend(ctx context.Context, channel, key string) error {
	if err := store.ValidateSend(channel, key); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	now := s.now()
	_, err := s.pool.Exec(ctx, `INSERT INTO send_journal AS j (channel, key, message_ids, expires_at, begun_at) VALUES ($1, $2, '[]', $3, $4)
		ON CONFLICT (channel, key) DO UPDATE SET message_ids = '[]', expires_at = excluded.expires_at, begun_at = excluded.begun_at
		WHERE j.expires_at <= $4`,
		channel, []byte(key), now.Add(s.opts.LinkTTL), now)
	if err != nil {
		return fmt.Errorf("begin send %q: %w", key, err)
	}
	return nil
}

// AbandonSend implements store.SendJournal.
func (s *Store) AbandonSend(ctx context.Context, channel, key string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	if _, err := s.pool.Exec(ctx, `DELETE FROM send_journal WHERE channel = $1 AND key = $2 AND begun_at IS NOT NULL`, channel, []byte(key)); err != nil {
		return fmt.Errorf("abandon send %q: %w", key, err)
	}
	return nil
}

// SendState implements store.SendJournal.
func (s *Store) SendState(ctx context.Context, channel, key string) (store.SendState, error) {
	if err := s.begin(ctx); err != nil {
		return store.SendState{}, err
	}
	defer s.end()
	var raw []byte
	var begun *time.Time
	err := s.pool.QueryRow(ctx, `SELECT message_ids, begun_at FROM send_journal WHERE channel = $1 AND key = $2 AND expires_at > $3`,
		channel, []byte(key), s.now()).Scan(&raw, &begun)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.SendState{}, nil
	case err != nil:
		return store.SendState{}, fmt.Errorf("read send %q: %w", key, err)
	case begun != nil:
		return store.SendState{InDoubt: true, Begun: *begun}, nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		return store.SendState{}, fmt.Errorf("read send %q: %w", key, err)
	}
	return store.SendState{Sent: true, MessageIDs: ids}, nil
}

// AcquireSingleton implements store.Singletons in one round trip: the row
// is taken when free or lapsed and renewed when the owner's; otherwise
// the statement changes nothing and the holder is read back.
func (s *Store) AcquireSingleton(ctx context.Context, name, owner string, ttl time.Duration) (store.SingletonLease, bool, error) {
	if err := store.ValidateSingleton(name, owner, ttl); err != nil {
		return store.SingletonLease{}, false, err
	}
	if err := s.begin(ctx); err != nil {
		return store.SingletonLease{}, false, err
	}
	defer s.end()
	now := s.now()
	l := store.SingletonLease{Name: name}
	var token int64
	var held bool
	err := s.pool.QueryRow(ctx, `WITH taken AS (
		INSERT INTO singletons AS s (name, owner, token, expires_at) VALUES ($1, $2, nextval('lease_tokens'), $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
			token = CASE WHEN s.owner = excluded.owner AND s.expires_at > $4 THEN s.token ELSE excluded.token END
		WHERE s.owner = excluded.owner OR s.expires_at <= $4
		RETURNING owner, token, expires_at, true AS held)
	SELECT * FROM taken UNION ALL SELECT owner, token, expires_at, false FROM singletons WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM taken)`,
		name, owner, now.Add(ttl), now).Scan(&l.Owner, &token, &l.Expires, &held)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another instance created the row after this statement's snapshot
		// was taken: it holds the name.
		return store.SingletonLease{Name: name}, false, nil
	}
	if err != nil {
		return store.SingletonLease{}, false, fmt.Errorf("acquire singleton %q: %w", name, err)
	}
	l.Token = uint64(token)
	return l, held, nil
}

// ReleaseSingleton implements store.Singletons.
func (s *Store) ReleaseSingleton(ctx context.Context, l store.SingletonLease) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	if _, err := s.pool.Exec(ctx, `DELETE FROM singletons WHERE name = $1 AND owner = $2 AND token = $3`, l.Name, l.Owner, int64(l.Token)); err != nil {
		return fmt.Errorf("release singleton %q: %w", l.Name, err)
	}
	return nil
}
