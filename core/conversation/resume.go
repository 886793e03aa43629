package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
)

// recordParticipant keeps, on the consumer's record, the id LiveEngage
// gives the consumer as a participant of its conversations (read from each
// conversation notification, never assumed from the consumer's token), so
// that a conversation an agent resumes can be traced back to the consumer.
func (e *Engine) recordParticipant(ctx context.Context, c store.Consumer, ch liveperson.ConversationChange) (store.Consumer, error) {
	pid := ch.Details.ConsumerID()
	if pid == "" || pid == c.ParticipantID {
		return c, nil
	}
	return store.UpdateConsumer(ctx, e.opts.Store, c.Identity, func(c *store.Consumer) error {
		c.ParticipantID = pid
		return nil
	})
}

// resumed makes an open conversation leconnect did not open the consumer's
// current one when its consumer participant is a consumer leconnect knows:
// an agent resumed the consumer's closed conversation (LiveEngage opens a
// new one for the same consumer). LiveEngage allows a consumer one open
// conversation, so this one replaces whatever the record holds. It returns
// the consumer's identity, or store.ErrNotFound.
func (e *Engine) resumed(ctx context.Context, conversationID string, ch liveperson.ConversationChange) (store.Identity, error) {
	pid := ch.Details.ConsumerID()
	if ch.Details.Closed() || pid == "" {
		return store.Identity{}, fmt.Errorf("conversation %s: %w", conversationID, store.ErrNotFound)
	}
	id, err := e.opts.Store.ConsumerByParticipant(ctx, pid)
	if err != nil {
		return store.Identity{}, err
	}
	_, err = store.UpdateConsumer(ctx, e.opts.Store, id, func(c *store.Consumer) error {
		if c.Conversation.ID != conversationID {
			c.Conversation = store.Conversation{ID: conversationID, State: store.StateOpen, OpenedAt: time.Now()}
		}
		return nil
	})
	if err != nil {
		return store.Identity{}, err
	}
	e.seqMu.Lock()
	if _, known := e.lastSeq[conversationID]; !known {
		e.lastSeq[conversationID] = -1 // a new conversation: its first agent event needs no reorder wait
	}
	e.seqMu.Unlock()
	e.log.Info("an agent resumed the consumer's conversation; it is the consumer's open conversation now",
		"conversation_id", conversationID, "channel", id.Channel)
	return id, nil
}
