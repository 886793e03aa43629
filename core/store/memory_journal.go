package store

import (
	"context"
	"slices"
	"time"
)

type sendKey struct{ channel, key string }

type memSend struct {
	ids     []string
	expires time.Time
	begun   time.Time // set while only begun (in doubt when it stays so)
}

// RecordSend implements SendJournal.
func (m *Memory) RecordSend(ctx context.Context, channel, key string, messageIDs []string) error {
	if err := ValidateSend(channel, key); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.sends[sendKey{channel, key}] = memSend{ids: slices.Clone(messageIDs), expires: m.opts.Now().Add(m.opts.LinkTTL)}
	return nil
}

// LookupSend implements SendJournal.
func (m *Memory) LookupSend(ctx context.Context, channel, key string) ([]string, bool, error) {
	st, err := m.SendState(ctx, channel, key)
	return st.MessageIDs, st.Sent, err
}

// BeginSend implements SendJournal.
func (m *Memory) BeginSend(ctx context.Context, channel, key string) error {
	if err := ValidateSend(channel, key); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	now := m.opts.Now()
	k := sendKey{channel, key}
	if s, ok := m.sends[k]; ok && now.Before(s.expires) {
		return nil // recorded, or begun already
	}
	m.sends[k] = memSend{begun: now, expires: now.Add(m.opts.LinkTTL)}
	return nil
}

// AbandonSend implements SendJournal.
func (m *Memory) AbandonSend(ctx context.Context, channel, key string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	k := sendKey{channel, key}
	if s, ok := m.sends[k]; ok && !s.begun.IsZero() {
		delete(m.sends, k)
	}
	return nil
}

// SendState implements SendJournal.
func (m *Memory) SendState(ctx context.Context, channel, key string) (SendState, error) {
	if err := m.lock(ctx); err != nil {
		return SendState{}, err
	}
	defer m.mu.Unlock()
	s, ok := m.sends[sendKey{channel, key}]
	switch {
	case !ok || !m.opts.Now().Before(s.expires):
		return SendState{}, nil
	case !s.begun.IsZero():
		return SendState{InDoubt: true, Begun: s.begun}, nil
	}
	return SendState{Sent: true, MessageIDs: slices.Clone(s.ids)}, nil
}
