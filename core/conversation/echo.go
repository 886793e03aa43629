package conversation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
)

// ourEchoes are LiveEngage's echoes of consumer events leconnect published
// (tagged with our external id) in one messaging change, if that is all the
// change is. They need no delivery: recording them lets a publish whose
// answer a crash or timeout swallowed be recognised instead of published
// twice, and tells ordering their sequences leave no gap (EchoedThrough).
func ourEchoes(conversationID string, n *liveperson.Notification) []store.Echo {
	if n == nil || len(n.Messaging) != 1 || len(n.Conversations) != 0 || !n.Messaging[0].FromConsumer() {
		return nil
	}
	m := n.Messaging[0]
	if _, isContent := m.Event.(*liveperson.ContentEvent); !isContent || m.Sequence == nil {
		return nil
	}
	var echoes []store.Echo
	for _, md := range m.Metadata {
		id, _ := md["id"].(string)
		if md["type"] != "ExternalId" || !strings.HasPrefix(id, externalIDPrefix) {
			continue
		}
		echoes = append(echoes, store.Echo{ConversationID: conversationID, ExternalID: id, Sequence: int64(*m.Sequence)})
	}
	return echoes
}

// waitEcho waits up to EchoWait for LiveEngage's echo of the publish tagged
// extID; the store wakes it when the echo is recorded. An echo means the
// publish landed; none means it did not (or the echo is later than we are
// willing to wait, and it is published again).
func (e *Engine) waitEcho(ctx context.Context, conversationID, extID string) (int, bool, error) {
	seq, err := e.opts.Store.AwaitEcho(ctx, conversationID, extID, time.Now().Add(e.opts.EchoWait))
	switch {
	case err == nil:
		return int(seq), true, nil
	case errors.Is(err, store.ErrNotFound):
		e.log.Warn("no echo of an earlier publish attempt; publishing again (the agent may see it twice)",
			"conversation_id", conversationID, "external_id", extID)
		e.metrics.echoTimeouts.Inc()
		return 0, false, nil
	}
	return 0, false, err
}

func (e *Engine) isUncertain(seq uint64) bool {
	e.uncertainMu.Lock()
	defer e.uncertainMu.Unlock()
	return e.uncertain[seq]
}

func (e *Engine) setUncertain(seq uint64, v bool) {
	e.uncertainMu.Lock()
	defer e.uncertainMu.Unlock()
	if v {
		e.uncertain[seq] = true
	} else {
		delete(e.uncertain, seq)
	}
}

// rememberUnowned keeps an open conversation no record owns, by its
// consumer, for adopt.
func (e *Engine) rememberUnowned(ctx context.Context, c liveperson.ConversationChange) error {
	consumer := c.Details.ConsumerID()
	if c.Details.Closed() || consumer == "" {
		return nil
	}
	return e.opts.Store.PutUnowned(ctx, consumer, c.ConversationID)
}

// adopt finds the open conversation LiveEngage says the consumer has: one we
// opened just before a crash, before we could record it. LiveEngage
// announced it by webhook; match it by LiveEngage's consumer id, read from
// the consumer's JWS. The store wakes the wait when the announcement is
// recorded.
func (e *Engine) adopt(ctx context.Context, c store.Consumer) (liveperson.Conversation, error) {
	tok, found, err := e.opts.Store.GetConsumerToken(ctx, c.ExtConsumerID)
	if err != nil {
		return liveperson.Conversation{}, err
	}
	lpID := ""
	if found {
		lpID = lpConsumerID(tok)
	}
	if lpID == "" {
		return liveperson.Conversation{}, fmt.Errorf("consumer already has an open conversation that leconnect cannot identify: %w", liveperson.ErrAlreadyOpen)
	}
	conv, err := e.opts.Store.AwaitUnowned(ctx, lpID, time.Now().Add(e.opts.EchoWait))
	switch {
	case err == nil:
		e.log.Info("adopted the consumer's open conversation", "conversation_id", conv)
		return liveperson.Conversation{ExtConsumerID: c.ExtConsumerID, ConversationID: conv}, nil
	case errors.Is(err, store.ErrNotFound):
		return liveperson.Conversation{}, fmt.Errorf("consumer already has an open conversation and none was announced within %s: %w", e.opts.EchoWait, liveperson.ErrAlreadyOpen)
	}
	return liveperson.Conversation{}, err
}

// lpConsumerID reads the lp_consumer_id claim of a consumer JWS. The token
// came from LiveEngage's IDP over TLS, so it is not verified again here.
func lpConsumerID(jws string) string {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		LPConsumerID string `json:"lp_consumer_id"`
	}
	_ = json.Unmarshal(payload, &claims)
	return claims.LPConsumerID
}
