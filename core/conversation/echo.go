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

// Reserved link namespaces (channel names in the config cannot start with a
// NUL byte, so these never collide with a channel's links).
const (
	// echoLinks: ChatID = conversation id, ChannelMessageID = the external
	// id we attached to a publish; Sequence = what LiveEngage gave it.
	echoLinks = "\x00echo"
	// adoptLinks: ChatID = "open", ChannelMessageID = LiveEngage's consumer
	// id, ConversationID = an open conversation of that consumer that no
	// record owns (opened just before a crash).
	adoptLinks = "\x00adopt"
	// lastLinks: ConversationID = lastSequenceKey(conversation); Sequence =
	// the last sequence the outbound side has handled in it.
	lastLinks = "\x00last"
)

func lastSequenceKey(conversationID string) string { return lastLinks + "\x00" + conversationID }

// lastSequenceMark records the last sequence handled in a conversation (one
// link per conversation, overwritten by each ack).
func lastSequenceMark(conversationID string, seq int) store.MessageLink {
	return store.MessageLink{Channel: lastLinks, ChatID: "last", ChannelMessageID: conversationID,
		ConversationID: lastSequenceKey(conversationID), Sequence: int64(seq)}
}

// recordEcho keeps LiveEngage's echo of a consumer event we published, so a
// publish whose answer a crash or timeout swallowed is recognised instead
// of being published twice.
func (e *Engine) recordEcho(conversationID string, m liveperson.MessagingChange) result {
	if _, isContent := m.Event.(*liveperson.ContentEvent); !isContent || m.Sequence == nil {
		return ok()
	}
	var links []store.MessageLink
	for _, md := range m.Metadata {
		id, _ := md["id"].(string)
		if md["type"] != "ExternalId" || !strings.HasPrefix(id, externalIDPrefix) {
			continue
		}
		links = append(links, store.MessageLink{Channel: echoLinks, ChatID: conversationID, ChannelMessageID: id,
			ConversationID: conversationID, Sequence: int64(*m.Sequence)})
	}
	return okLinked(links...)
}

// waitEcho waits up to EchoWait for LiveEngage's echo of the publish tagged
// extID. An echo means the publish landed; none means it did not (or the
// echo is later than we are willing to wait, and it is published again).
func (e *Engine) waitEcho(ctx context.Context, conversationID, extID string) (int, bool, error) {
	deadline := time.Now().Add(e.opts.EchoWait)
	for {
		l, err := e.opts.Store.LinkByChannelMessage(ctx, echoLinks, conversationID, extID)
		if err == nil {
			return int(l.Sequence), true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return 0, false, err
		}
		if time.Now().After(deadline) {
			e.log.Warn("no echo of an earlier publish attempt; publishing again (the agent may see it twice)",
				"conversation_id", conversationID, "external_id", extID)
			e.metrics.echoTimeouts.Inc()
			return 0, false, nil
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return 0, false, ctx.Err()
		}
	}
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
	return e.opts.Store.PutLinks(ctx, store.MessageLink{Channel: adoptLinks, ChatID: "open", ChannelMessageID: consumer,
		ConversationID: c.ConversationID})
}

// adopt finds the open conversation LiveEngage says the consumer has: one we
// opened just before a crash, before we could record it. LiveEngage
// announced it by webhook; match it by LiveEngage's consumer id, read from
// the consumer's JWS.
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
	deadline := time.Now().Add(e.opts.EchoWait)
	for {
		l, err := e.opts.Store.LinkByChannelMessage(ctx, adoptLinks, "open", lpID)
		if err == nil {
			e.log.Info("adopted the consumer's open conversation", "conversation_id", l.ConversationID)
			return liveperson.Conversation{ExtConsumerID: c.ExtConsumerID, ConversationID: l.ConversationID}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return liveperson.Conversation{}, err
		}
		if time.Now().After(deadline) {
			return liveperson.Conversation{}, fmt.Errorf("consumer already has an open conversation and none was announced within %s: %w", e.opts.EchoWait, liveperson.ErrAlreadyOpen)
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return liveperson.Conversation{}, ctx.Err()
		}
	}
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
