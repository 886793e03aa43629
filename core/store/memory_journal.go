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
	if err := m.lock(ctx); err != nil {
		return nil, false, err
	}
	defer m.mu.Unlock()
	s, ok := m.sends[sendKey{channel, key}]
	if !ok || !m.opts.Now().Before(s.expires) {
		return nil, false, nil
	}
	return slices.Clone(s.ids), true, nil
}
