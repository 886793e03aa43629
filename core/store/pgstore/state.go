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

// ---- consumers ----------------------------------------------------------------

// GetConsumer implements store.Consumers.
func (s *Store) GetConsumer(ctx context.Context, id store.Identity) (store.Consumer, error) {
	if err := id.Validate(); err != nil {
		return store.Consumer{}, err
	}
	if err := s.begin(ctx); err != nil {
		return store.Consumer{}, err
	}
	defer s.end()
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT record FROM consumers WHERE channel = $1 AND consumer_id = $2`, id.Channel, id.ConsumerID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Consumer{}, fmt.Errorf("consumer %s/%s: %w", id.Channel, id.ConsumerID, store.ErrNotFound)
	}
	if err != nil {
		return store.Consumer{}, fmt.Errorf("get consumer: %w", err)
	}
	var c store.Consumer
	if err := json.Unmarshal(raw, &c); err != nil {
		return store.Consumer{}, fmt.Errorf("consumer %s/%s: %w", id.Channel, id.ConsumerID, err)
	}
	return c, nil
}

// PutConsumer implements store.Consumers.
func (s *Store) PutConsumer(ctx context.Context, c store.Consumer) (store.Consumer, error) {
	if err := c.Identity.Validate(); err != nil {
		return store.Consumer{}, err
	}
	if len(c.Conversation.ID) > store.MaxKeyLen || len(c.ParticipantID) > store.MaxKeyLen {
		return store.Consumer{}, fmt.Errorf("consumer: conversation or participant id longer than %d bytes: %w", store.MaxKeyLen, store.ErrInvalid)
	}
	id, now := c.Identity, s.now()
	given := c.Revision
	c.Revision++
	c.UpdatedAt = now
	raw, err := json.Marshal(c)
	if err != nil {
		return store.Consumer{}, err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var old store.Consumer
		var oldRaw []byte
		err := tx.QueryRow(ctx, `SELECT record FROM consumers WHERE channel = $1 AND consumer_id = $2 FOR UPDATE`, id.Channel, id.ConsumerID).Scan(&oldRaw)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(oldRaw, &old); err != nil {
				return err
			}
		}
		if old.Revision != given {
			return fmt.Errorf("consumer %s/%s: stored revision %d, given %d: %w", id.Channel, id.ConsumerID, old.Revision, given, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO consumers (channel, consumer_id, record, revision) VALUES ($1, $2, $3, $4)
			ON CONFLICT (channel, consumer_id) DO UPDATE SET record = excluded.record, revision = excluded.revision`,
			id.Channel, id.ConsumerID, raw, c.Revision); err != nil {
			return err
		}
		if c.Conversation.ID != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO owners (conversation_id, channel, consumer_id, retired_until) VALUES ($1, $2, $3, NULL)
				ON CONFLICT (conversation_id) DO UPDATE SET channel = excluded.channel, consumer_id = excluded.consumer_id, retired_until = NULL`,
				c.Conversation.ID, id.Channel, id.ConsumerID); err != nil {
				return err
			}
		}
		if prev := old.Conversation.ID; prev != "" && prev != c.Conversation.ID {
			if _, err := tx.Exec(ctx, `INSERT INTO owners (conversation_id, channel, consumer_id, retired_until) VALUES ($1, $2, $3, $4)
				ON CONFLICT (conversation_id) DO UPDATE SET channel = excluded.channel, consumer_id = excluded.consumer_id, retired_until = excluded.retired_until`,
				prev, id.Channel, id.ConsumerID, now.Add(s.opts.LinkTTL)); err != nil {
				return err
			}
		}
		if prev := old.ParticipantID; prev != "" && prev != c.ParticipantID {
			if _, err := tx.Exec(ctx, `DELETE FROM participants WHERE participant_id = $1 AND channel = $2 AND consumer_id = $3`,
				prev, id.Channel, id.ConsumerID); err != nil {
				return err
			}
		}
		if c.ParticipantID != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO participants (participant_id, channel, consumer_id) VALUES ($1, $2, $3)
				ON CONFLICT (participant_id) DO UPDATE SET channel = excluded.channel, consumer_id = excluded.consumer_id`,
				c.ParticipantID, id.Channel, id.ConsumerID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Consumer{}, err
		}
		return store.Consumer{}, fmt.Errorf("put consumer: %w", err)
	}
	return c, nil
}

// ConversationOwner implements store.Consumers.
func (s *Store) ConversationOwner(ctx context.Context, conversationID string) (store.Identity, error) {
	return s.identity(ctx, fmt.Sprintf("conversation %s", conversationID),
		`SELECT channel, consumer_id FROM owners WHERE conversation_id = $1 AND (retired_until IS NULL OR retired_until > $2)`,
		conversationID, s.now())
}

// ConsumerByParticipant implements store.Consumers.
func (s *Store) ConsumerByParticipant(ctx context.Context, participantID string) (store.Identity, error) {
	return s.identity(ctx, fmt.Sprintf("participant %s", participantID),
		`SELECT channel, consumer_id FROM participants WHERE participant_id = $1`, participantID)
}

func (s *Store) identity(ctx context.Context, what, query string, args ...any) (store.Identity, error) {
	if err := s.begin(ctx); err != nil {
		return store.Identity{}, err
	}
	defer s.end()
	var id store.Identity
	err := s.pool.QueryRow(ctx, query, args...).Scan(&id.Channel, &id.ConsumerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Identity{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("%s: %w", what, err)
	}
	return id, nil
}

// ---- consumer tokens ----------------------------------------------------------

// GetConsumerToken implements store.ConsumerTokens.
func (s *Store) GetConsumerToken(ctx context.Context, extConsumerID string) (string, bool, error) {
	if err := s.begin(ctx); err != nil {
		return "", false, err
	}
	defer s.end()
	var tok string
	err := s.pool.QueryRow(ctx, `SELECT token FROM tokens WHERE ext_consumer_id = $1`, extConsumerID).Scan(&tok)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get consumer token: %w", err)
	}
	return tok, true, nil
}

// PutConsumerToken implements store.ConsumerTokens.
func (s *Store) PutConsumerToken(ctx context.Context, extConsumerID, token string) error {
	if extConsumerID == "" || len(extConsumerID) > store.MaxKeyLen {
		return fmt.Errorf("consumer token: ext consumer id empty or longer than %d bytes: %w", store.MaxKeyLen, store.ErrInvalid)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tokens (ext_consumer_id, token) VALUES ($1, $2)
			ON CONFLICT (ext_consumer_id) DO UPDATE SET token = excluded.token`, extConsumerID, token)
		return err
	})
}

// ---- links, effects and delivery state ---------------------------------------

// PutLinks implements store.Links.
func (s *Store) PutLinks(ctx context.Context, links ...store.MessageLink) error {
	fx := store.Effects{Links: links}
	if err := fx.Validate(); err != nil {
		return err
	}
	b := &pgx.Batch{}
	s.queueEffects(b, fx)
	if err := s.send(ctx, b); err != nil {
		return fmt.Errorf("put links: %w", err)
	}
	s.wakeState()
	return nil
}

// queueEffects adds fx's statements to b, with a notification to the other
// instances when it holds something they may await.
func (s *Store) queueEffects(b *pgx.Batch, fx store.Effects) {
	now := s.now()
	exp := now.Add(s.opts.LinkTTL)
	for _, l := range fx.Links {
		b.Queue(`INSERT INTO links (channel, chat_id, message_id, conversation_id, sequence, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (channel, chat_id, message_id) DO UPDATE SET conversation_id = excluded.conversation_id, sequence = excluded.sequence, expires_at = excluded.expires_at`,
			l.Channel, l.ChatID, l.ChannelMessageID, l.ConversationID, l.Sequence, exp)
	}
	for _, e := range fx.Echoes {
		b.Queue(`INSERT INTO echoes (conversation_id, external_id, sequence, expires_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (conversation_id, external_id) DO UPDATE SET sequence = excluded.sequence, expires_at = excluded.expires_at`,
			e.ConversationID, e.ExternalID, e.Sequence, exp)
	}
	if h := fx.Handled; h != nil {
		// The mark only grows (while it lives).
		b.Queue(`INSERT INTO handled (conversation_id, sequence, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (conversation_id) DO UPDATE SET sequence = excluded.sequence, expires_at = excluded.expires_at
			WHERE handled.sequence <= excluded.sequence OR handled.expires_at <= $4`,
			h.ConversationID, h.Sequence, exp, now)
	}
	if len(fx.Links) > 0 || len(fx.Echoes) > 0 {
		b.Queue(`SELECT pg_notify($1, 'state')`, notifyChannel)
	}
}

// LinkByChannelMessage implements store.Links.
func (s *Store) LinkByChannelMessage(ctx context.Context, channel, chatID, channelMessageID string) (store.MessageLink, error) {
	if err := s.begin(ctx); err != nil {
		return store.MessageLink{}, err
	}
	defer s.end()
	l, found, err := s.link(ctx, channel, chatID, channelMessageID)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.MessageLink{}, fmt.Errorf("message link %s/%s/%s: %w", channel, chatID, channelMessageID, err)
	}
	return l, nil
}

func (s *Store) link(ctx context.Context, channel, chatID, channelMessageID string) (store.MessageLink, bool, error) {
	l := store.MessageLink{Channel: channel, ChatID: chatID, ChannelMessageID: channelMessageID}
	err := s.pool.QueryRow(ctx, `SELECT conversation_id, sequence FROM links WHERE channel = $1 AND chat_id = $2 AND message_id = $3 AND expires_at > $4`,
		channel, chatID, channelMessageID, s.now()).Scan(&l.ConversationID, &l.Sequence)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.MessageLink{}, false, nil
	}
	return l, err == nil, err
}

// LinksBySequence implements store.Links.
func (s *Store) LinksBySequence(ctx context.Context, conversationID string, sequence int64) ([]store.MessageLink, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.end()
	rows, err := s.pool.Query(ctx, `SELECT channel, chat_id, message_id FROM links
		WHERE conversation_id = $1 AND sequence = $2 AND expires_at > $3 ORDER BY channel, chat_id, message_id`,
		conversationID, sequence, s.now())
	if err != nil {
		return nil, fmt.Errorf("links of %s/%d: %w", conversationID, sequence, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.MessageLink, error) {
		l := store.MessageLink{ConversationID: conversationID, Sequence: sequence}
		return l, r.Scan(&l.Channel, &l.ChatID, &l.ChannelMessageID)
	})
	if err != nil {
		return nil, fmt.Errorf("links of %s/%d: %w", conversationID, sequence, err)
	}
	return out, nil
}

// await runs find until it finds something, woken by commits that record
// delivery state (here or on another instance), until deadline
// (ErrNotFound) or ctx's end.
func (s *Store) await(ctx context.Context, deadline time.Time, find func(ctx context.Context) (bool, error)) error {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for {
		if err := s.begin(ctx); err != nil {
			return err
		}
		mark := s.state.Last()
		found, err := find(ctx)
		s.end()
		if err != nil || found {
			return err
		}
		if err := s.state.Wait(wctx, mark, store.ErrClosed); err != nil {
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
	err := s.await(ctx, deadline, func(ctx context.Context) (bool, error) {
		err := s.pool.QueryRow(ctx, `SELECT sequence FROM echoes WHERE conversation_id = $1 AND external_id = $2 AND expires_at > $3`,
			conversationID, externalID, s.now()).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return 0, fmt.Errorf("echo %s in %s: %w", externalID, conversationID, err)
	}
	return seq, nil
}

// AwaitLink implements store.DeliveryState.
func (s *Store) AwaitLink(ctx context.Context, channel, chatID, channelMessageID string, deadline time.Time) (store.MessageLink, error) {
	var out store.MessageLink
	err := s.await(ctx, deadline, func(ctx context.Context) (bool, error) {
		l, found, err := s.link(ctx, channel, chatID, channelMessageID)
		out = l
		return found, err
	})
	if err != nil {
		return store.MessageLink{}, fmt.Errorf("message link %s/%s/%s: %w", channel, chatID, channelMessageID, err)
	}
	return out, nil
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
	b := &pgx.Batch{}
	s.queueEffects(b, fx)
	if err := s.send(ctx, b); err != nil {
		return fmt.Errorf("record echoes: %w", err)
	}
	s.wakeState()
	return nil
}

// echoRun bounds the echoes EchoedThrough reads in one round trip.
const echoRun = 64

// EchoedThrough implements store.DeliveryState. The primary key's prefix
// finds a conversation's echoes, a handful while they live, so the
// sequence needs no index of its own.
func (s *Store) EchoedThrough(ctx context.Context, conversationID string, after int64) (int64, error) {
	if err := s.begin(ctx); err != nil {
		return after, err
	}
	defer s.end()
	through := after
	for {
		rows, err := s.pool.Query(ctx, `SELECT DISTINCT sequence FROM echoes
			WHERE conversation_id = $1 AND sequence > $2 AND expires_at > $3 ORDER BY sequence LIMIT $4`,
			conversationID, through, s.now(), echoRun)
		if err != nil {
			return after, fmt.Errorf("echoes in %s after %d: %w", conversationID, after, err)
		}
		seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return after, fmt.Errorf("echoes in %s after %d: %w", conversationID, after, err)
		}
		for _, seq := range seqs {
			if seq != through+1 {
				return through, nil
			}
			through = seq
		}
		if len(seqs) < echoRun {
			return through, nil
		}
	}
}

// LastHandled implements store.DeliveryState.
func (s *Store) LastHandled(ctx context.Context, conversationID string) (int64, bool, error) {
	if err := s.begin(ctx); err != nil {
		return 0, false, err
	}
	defer s.end()
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT sequence FROM handled WHERE conversation_id = $1 AND expires_at > $2`, conversationID, s.now()).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("last handled in %s: %w", conversationID, err)
	}
	return seq, true, nil
}

// PutUnowned implements store.DeliveryState.
func (s *Store) PutUnowned(ctx context.Context, participantID, conversationID string) error {
	if participantID == "" || conversationID == "" || len(participantID) > store.MaxKeyLen {
		return fmt.Errorf("unowned conversation: participant and conversation id are required: %w", store.ErrInvalid)
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO unowned (participant_id, conversation_id, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (participant_id) DO UPDATE SET conversation_id = excluded.conversation_id, expires_at = excluded.expires_at`,
			participantID, conversationID, s.now().Add(s.opts.LinkTTL)); err != nil {
			return err
		}
		return notifyTx(ctx, tx, "state")
	})
	if err != nil {
		return fmt.Errorf("put unowned conversation: %w", err)
	}
	s.wakeState()
	return nil
}

// AwaitUnowned implements store.DeliveryState.
func (s *Store) AwaitUnowned(ctx context.Context, participantID string, deadline time.Time) (string, error) {
	var conv string
	err := s.await(ctx, deadline, func(ctx context.Context) (bool, error) {
		err := s.pool.QueryRow(ctx, `SELECT conversation_id FROM unowned WHERE participant_id = $1 AND expires_at > $2`,
			participantID, s.now()).Scan(&conv)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return "", fmt.Errorf("unowned conversation of %s: %w", participantID, err)
	}
	return conv, nil
}

// ---- choices ------------------------------------------------------------------

// PutChoices implements store.Choices.
func (s *Store) PutChoices(ctx context.Context, choices ...store.Choice) error {
	for _, c := range choices {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	exp := s.now().Add(s.opts.LinkTTL)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, c := range choices {
			raw, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO choices (channel, consumer_id, id, record, expires_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (channel, consumer_id, id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at`,
				c.Identity.Channel, c.Identity.ConsumerID, c.ID, raw, exp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put choices: %w", err)
	}
	return nil
}

// GetChoice implements store.Choices.
func (s *Store) GetChoice(ctx context.Context, consumer store.Identity, id string) (store.Choice, error) {
	if err := s.begin(ctx); err != nil {
		return store.Choice{}, err
	}
	defer s.end()
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT record FROM choices WHERE channel = $1 AND consumer_id = $2 AND id = $3 AND expires_at > $4`,
		consumer.Channel, consumer.ConsumerID, id, s.now()).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Choice{}, fmt.Errorf("choice %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Choice{}, fmt.Errorf("choice %q: %w", id, err)
	}
	var c store.Choice
	if err := json.Unmarshal(raw, &c); err != nil {
		return store.Choice{}, fmt.Errorf("choice %q: %w", id, err)
	}
	return c, nil
}

// ---- expiry -------------------------------------------------------------------

// expiring lists what PurgeExpired deletes: table and expiry column.
var expiring = []struct{ table, column string }{
	{"dedupe", "expires_at"}, {"links", "expires_at"}, {"echoes", "expires_at"}, {"handled", "expires_at"},
	{"unowned", "expires_at"}, {"choices", "expires_at"}, {"send_journal", "expires_at"}, {"owners", "retired_until"},
}

// PurgeExpired implements store.Store: up to limit expired entries, the
// oldest first, in one transaction.
func (s *Store) PurgeExpired(ctx context.Context, limit int) (int, error) {
	limit = store.ClampLimit(limit)
	now := s.now()
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		// The oldest expiries across tables, then delete those rows by ctid.
		q := ""
		for i, e := range expiring {
			if i > 0 {
				q += " UNION ALL "
			}
			q += fmt.Sprintf(`(SELECT %d AS t, ctid, %s AS at FROM %s WHERE %s <= $1 ORDER BY %s LIMIT $2)`, i, e.column, e.table, e.column, e.column)
		}
		rows, err := tx.Query(ctx, `SELECT t, ctid FROM (`+q+`) x ORDER BY at LIMIT $2`, now, limit)
		if err != nil {
			return err
		}
		type victim struct {
			t    int
			ctid any
		}
		victims, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (victim, error) {
			var v victim
			return v, r.Scan(&v.t, &v.ctid)
		})
		if err != nil {
			return err
		}
		for _, v := range victims {
			tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE ctid = $1`, expiring[v.t].table), v.ctid)
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired: %w", err)
	}
	return n, nil
}
