package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

type echoKey struct{ conv, ext string }

type echoSeqKey struct {
	conv string
	seq  int64
}

type memSeq struct {
	seq     int64
	expires time.Time
}

type memUnowned struct {
	conv    string
	expires time.Time
}

// putEffectsLocked stores fx; m.mu held.
func (m *Memory) putEffectsLocked(fx Effects) {
	exp := m.opts.Now().Add(m.opts.LinkTTL)
	for _, l := range fx.Links {
		m.links[linkKey{l.Channel, l.ChatID, l.ChannelMessageID}] = memLink{l: l, expires: exp}
	}
	for _, e := range fx.Echoes {
		k := echoKey{e.ConversationID, e.ExternalID}
		if _, ok := m.echoes[k]; ok {
			m.dropEchoLocked(k)
		}
		m.echoes[k] = memSeq{seq: e.Sequence, expires: exp}
		m.echoSeqs[echoSeqKey{e.ConversationID, e.Sequence}] = e.ExternalID
	}
	if h := fx.Handled; h != nil {
		if cur, ok := m.handled[h.ConversationID]; !ok || h.Sequence >= cur.seq {
			m.handled[h.ConversationID] = memSeq{seq: h.Sequence, expires: exp}
		}
	}
	if len(fx.Echoes) > 0 || len(fx.Links) > 0 {
		m.stateSeq++
		m.stateSig.Advance(m.stateSeq)
	}
}

// dropEchoLocked forgets echo k and its index entry; m.mu held.
func (m *Memory) dropEchoLocked(k echoKey) {
	sk := echoSeqKey{k.conv, m.echoes[k].seq}
	if m.echoSeqs[sk] == k.ext {
		delete(m.echoSeqs, sk)
	}
	delete(m.echoes, k)
}

// RecordEchoes implements DeliveryState.
func (m *Memory) RecordEchoes(ctx context.Context, echoes ...Echo) error {
	fx := Effects{Echoes: echoes}
	if err := fx.Validate(); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.putEffectsLocked(fx)
	return nil
}

// EchoedThrough implements DeliveryState.
func (m *Memory) EchoedThrough(ctx context.Context, conversationID string, after int64) (int64, error) {
	if err := m.lock(ctx); err != nil {
		return after, err
	}
	defer m.mu.Unlock()
	now := m.opts.Now()
	for {
		ext, ok := m.echoSeqs[echoSeqKey{conversationID, after + 1}]
		if !ok || !now.Before(m.echoes[echoKey{conversationID, ext}].expires) {
			return after, nil
		}
		after++
	}
}

// await runs find until it finds something, waking on state changes, until
// deadline (ErrNotFound) or ctx's end.
func (m *Memory) await(ctx context.Context, deadline time.Time, find func() (bool, error)) error {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for {
		if err := m.lock(ctx); err != nil {
			return err
		}
		last := m.stateSig.Last()
		found, err := find()
		m.mu.Unlock()
		if err != nil || found {
			return err
		}
		if err := m.stateSig.Wait(wctx, last, ErrClosed); err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return ErrNotFound
			}
			return err
		}
	}
}

// AwaitEcho implements DeliveryState.
func (m *Memory) AwaitEcho(ctx context.Context, conversationID, externalID string, deadline time.Time) (int64, error) {
	var seq int64
	err := m.await(ctx, deadline, func() (bool, error) {
		e, ok := m.echoes[echoKey{conversationID, externalID}]
		if ok && m.opts.Now().Before(e.expires) {
			seq = e.seq
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return 0, fmt.Errorf("echo %s in %s: %w", externalID, conversationID, err)
	}
	return seq, nil
}

// AwaitLink implements DeliveryState.
func (m *Memory) AwaitLink(ctx context.Context, channel, chatID, channelMessageID string, deadline time.Time) (MessageLink, error) {
	var out MessageLink
	err := m.await(ctx, deadline, func() (bool, error) {
		ml, ok := m.links[linkKey{channel, chatID, channelMessageID}]
		if ok && m.opts.Now().Before(ml.expires) {
			out = ml.l
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return MessageLink{}, fmt.Errorf("message link %s/%s/%s: %w", channel, chatID, channelMessageID, err)
	}
	return out, nil
}

// LastHandled implements DeliveryState.
func (m *Memory) LastHandled(ctx context.Context, conversationID string) (int64, bool, error) {
	if err := m.lock(ctx); err != nil {
		return 0, false, err
	}
	defer m.mu.Unlock()
	h, ok := m.handled[conversationID]
	if !ok || !m.opts.Now().Before(h.expires) {
		return 0, false, nil
	}
	return h.seq, true, nil
}

// PutUnowned implements DeliveryState.
func (m *Memory) PutUnowned(ctx context.Context, participantID, conversationID string) error {
	if participantID == "" || conversationID == "" || len(participantID) > MaxKeyLen {
		return fmt.Errorf("unowned conversation: participant and conversation id are required: %w", ErrInvalid)
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.unowned[participantID] = memUnowned{conv: conversationID, expires: m.opts.Now().Add(m.opts.LinkTTL)}
	m.stateSeq++
	m.stateSig.Advance(m.stateSeq)
	return nil
}

// AwaitUnowned implements DeliveryState.
func (m *Memory) AwaitUnowned(ctx context.Context, participantID string, deadline time.Time) (string, error) {
	var conv string
	err := m.await(ctx, deadline, func() (bool, error) {
		u, ok := m.unowned[participantID]
		if ok && m.opts.Now().Before(u.expires) {
			conv = u.conv
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("unowned conversation of %s: %w", participantID, err)
	}
	return conv, nil
}
