package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/leconnect/leconnect/core/store/internal/notify"
)

// Memory is an in-memory Store for engine unit tests. It keeps nothing across
// processes but otherwise behaves like the embedded store: the shared
// conformance suite (package storetest) runs against both. Use NewMemory.
type Memory struct {
	opts Options
	LocalSingletons

	mu       sync.Mutex
	closed   bool
	cons     map[Identity]Consumer
	owners   map[string]memOwner
	parts    map[string]Identity // participant id -> identity
	choices  map[choiceKey]memChoice
	sends    map[sendKey]memSend
	echoes   map[echoKey]memSeq
	echoSeqs map[echoSeqKey]string // echoes by sequence -> external id
	handled  map[string]memSeq
	unowned  map[string]memUnowned
	stateSeq uint64      // counts changes to echoes and unowned conversations
	stateSig *notify.Seq // wakes AwaitEcho and AwaitUnowned
	tokens   map[string]string
	links    map[linkKey]memLink
	queues   map[QueueName]*memQueue
	dlq      map[uint64]DeadLetter
	dlqSeq   uint64
	dedupeBy map[QueueName]map[string]time.Time // dedupe key -> expires at
}

type linkKey struct{ channel, chat, msg string }

type choiceKey struct {
	id     Identity
	choice string
}

type memChoice struct {
	c       Choice
	expires time.Time
}

// memOwner: retiredUntil is zero while the conversation is the consumer's
// current one.
type memOwner struct {
	id           Identity
	retiredUntil time.Time
}

type memLink struct {
	l       MessageLink
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory(opts Options) *Memory {
	m := &Memory{
		opts:     opts.WithDefaults(),
		cons:     map[Identity]Consumer{},
		owners:   map[string]memOwner{},
		parts:    map[string]Identity{},
		choices:  map[choiceKey]memChoice{},
		sends:    map[sendKey]memSend{},
		echoes:   map[echoKey]memSeq{},
		echoSeqs: map[echoSeqKey]string{},
		handled:  map[string]memSeq{},
		unowned:  map[string]memUnowned{},
		stateSig: notify.New(0),
		tokens:   map[string]string{},
		links:    map[linkKey]memLink{},
		dlq:      map[uint64]DeadLetter{},
		dedupeBy: map[QueueName]map[string]time.Time{},
		queues:   map[QueueName]*memQueue{},
	}
	m.LocalSingletons.Now = m.opts.Now
	for _, q := range []QueueName{Inbound, Outbound} {
		m.queues[q] = &memQueue{m: m, name: q, items: map[uint64]Item{}, sig: notify.New(0), leases: map[string]Lease{}}
		m.dedupeBy[q] = map[string]time.Time{}
	}
	return m
}

func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for _, q := range m.queues {
		q.sig.Close()
	}
	m.stateSig.Close()
	return nil
}

// Ping implements Store.
func (m *Memory) Ping(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// GetConsumer implements Consumers.
func (m *Memory) GetConsumer(ctx context.Context, id Identity) (Consumer, error) {
	if err := id.validate(); err != nil {
		return Consumer{}, err
	}
	if err := m.lock(ctx); err != nil {
		return Consumer{}, err
	}
	defer m.mu.Unlock()
	c, ok := m.cons[id]
	if !ok {
		return Consumer{}, fmt.Errorf("consumer %s/%s: %w", id.Channel, id.ConsumerID, ErrNotFound)
	}
	return cloneConsumer(c), nil
}

// PutConsumer implements Consumers.
func (m *Memory) PutConsumer(ctx context.Context, c Consumer) (Consumer, error) {
	if err := c.Identity.validate(); err != nil {
		return Consumer{}, err
	}
	if len(c.Conversation.ID) > MaxKeyLen || len(c.ParticipantID) > MaxKeyLen {
		return Consumer{}, fmt.Errorf("consumer: conversation or participant id longer than %d bytes: %w", MaxKeyLen, ErrInvalid)
	}
	if err := m.lock(ctx); err != nil {
		return Consumer{}, err
	}
	defer m.mu.Unlock()
	if cur := m.cons[c.Identity].Revision; cur != c.Revision {
		return Consumer{}, fmt.Errorf("consumer %s/%s: stored revision %d, given %d: %w", c.Identity.Channel, c.Identity.ConsumerID, cur, c.Revision, ErrConflict)
	}
	old, oldPart := m.cons[c.Identity].Conversation.ID, m.cons[c.Identity].ParticipantID
	c = cloneConsumer(c)
	c.Revision++
	c.UpdatedAt = m.opts.Now().UTC()
	m.cons[c.Identity] = c
	if c.Conversation.ID != "" {
		m.owners[c.Conversation.ID] = memOwner{id: c.Identity}
	}
	if old != "" && old != c.Conversation.ID {
		m.owners[old] = memOwner{id: c.Identity, retiredUntil: m.opts.Now().Add(m.opts.LinkTTL)}
	}
	if oldPart != "" && oldPart != c.ParticipantID && m.parts[oldPart] == c.Identity {
		delete(m.parts, oldPart)
	}
	if c.ParticipantID != "" {
		m.parts[c.ParticipantID] = c.Identity
	}
	return cloneConsumer(c), nil
}

// ConsumerByParticipant implements Consumers.
func (m *Memory) ConsumerByParticipant(ctx context.Context, participantID string) (Identity, error) {
	if err := m.lock(ctx); err != nil {
		return Identity{}, err
	}
	defer m.mu.Unlock()
	id, ok := m.parts[participantID]
	if !ok {
		return Identity{}, fmt.Errorf("participant %s: %w", participantID, ErrNotFound)
	}
	return id, nil
}

// ConversationOwner implements Consumers.
func (m *Memory) ConversationOwner(ctx context.Context, conversationID string) (Identity, error) {
	if err := m.lock(ctx); err != nil {
		return Identity{}, err
	}
	defer m.mu.Unlock()
	o, ok := m.owners[conversationID]
	if !ok || (!o.retiredUntil.IsZero() && !m.opts.Now().Before(o.retiredUntil)) {
		return Identity{}, fmt.Errorf("conversation %s: %w", conversationID, ErrNotFound)
	}
	return o.id, nil
}

// GetConsumerToken implements ConsumerTokens.
func (m *Memory) GetConsumerToken(ctx context.Context, extConsumerID string) (string, bool, error) {
	if err := m.lock(ctx); err != nil {
		return "", false, err
	}
	defer m.mu.Unlock()
	t, ok := m.tokens[extConsumerID]
	return t, ok, nil
}

// PutConsumerToken implements ConsumerTokens.
func (m *Memory) PutConsumerToken(ctx context.Context, extConsumerID, token string) error {
	if extConsumerID == "" || len(extConsumerID) > MaxKeyLen {
		return fmt.Errorf("consumer token: ext consumer id empty or longer than %d bytes: %w", MaxKeyLen, ErrInvalid)
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.tokens[extConsumerID] = token
	return nil
}

// PutLinks implements Links.
func (m *Memory) PutLinks(ctx context.Context, links ...MessageLink) error {
	for _, l := range links {
		if err := l.Validate(); err != nil {
			return err
		}
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.putEffectsLocked(Effects{Links: links})
	return nil
}

// LinkByChannelMessage implements Links.
func (m *Memory) LinkByChannelMessage(ctx context.Context, channel, chatID, channelMessageID string) (MessageLink, error) {
	if err := m.lock(ctx); err != nil {
		return MessageLink{}, err
	}
	defer m.mu.Unlock()
	ml, ok := m.links[linkKey{channel, chatID, channelMessageID}]
	if !ok || !m.opts.Now().Before(ml.expires) {
		return MessageLink{}, fmt.Errorf("message link %s/%s/%s: %w", channel, chatID, channelMessageID, ErrNotFound)
	}
	return ml.l, nil
}

// LinksBySequence implements Links.
func (m *Memory) LinksBySequence(ctx context.Context, conversationID string, sequence int64) ([]MessageLink, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	now := m.opts.Now()
	var out []MessageLink
	for _, ml := range m.links {
		if ml.l.ConversationID == conversationID && ml.l.Sequence == sequence && now.Before(ml.expires) {
			out = append(out, ml.l)
		}
	}
	// The embedded store returns them in key order: channel, chat, message id.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		if a.ChatID != b.ChatID {
			return a.ChatID < b.ChatID
		}
		return a.ChannelMessageID < b.ChannelMessageID
	})
	return out, nil
}

// PurgeExpired implements Store.
func (m *Memory) PurgeExpired(ctx context.Context, limit int) (int, error) {
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	now := m.opts.Now()
	type victim struct {
		exp time.Time
		del func()
	}
	var vs []victim
	for q, keys := range m.dedupeBy {
		for k, exp := range keys {
			if !now.Before(exp) {
				vs = append(vs, victim{exp, func() { delete(m.dedupeBy[q], k) }})
			}
		}
	}
	for k, ml := range m.links {
		if !now.Before(ml.expires) {
			vs = append(vs, victim{ml.expires, func() { delete(m.links, k) }})
		}
	}
	for k, e := range m.echoes {
		if !now.Before(e.expires) {
			vs = append(vs, victim{e.expires, func() { m.dropEchoLocked(k) }})
		}
	}
	for k, h := range m.handled {
		if !now.Before(h.expires) {
			vs = append(vs, victim{h.expires, func() { delete(m.handled, k) }})
		}
	}
	for k, u := range m.unowned {
		if !now.Before(u.expires) {
			vs = append(vs, victim{u.expires, func() { delete(m.unowned, k) }})
		}
	}
	for k, c := range m.choices {
		if !now.Before(c.expires) {
			vs = append(vs, victim{c.expires, func() { delete(m.choices, k) }})
		}
	}
	for k, c := range m.sends {
		if !now.Before(c.expires) {
			vs = append(vs, victim{c.expires, func() { delete(m.sends, k) }})
		}
	}
	for k, o := range m.owners {
		if !o.retiredUntil.IsZero() && !now.Before(o.retiredUntil) {
			vs = append(vs, victim{o.retiredUntil, func() { delete(m.owners, k) }})
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].exp.Before(vs[j].exp) })
	if limit > 0 && len(vs) > limit {
		vs = vs[:limit]
	}
	for _, v := range vs {
		v.del()
	}
	return len(vs), nil
}

// PutChoices implements Choices.
func (m *Memory) PutChoices(ctx context.Context, choices ...Choice) error {
	for _, c := range choices {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	exp := m.opts.Now().Add(m.opts.LinkTTL)
	for _, c := range choices {
		c.Metadata = append(json.RawMessage(nil), c.Metadata...)
		m.choices[choiceKey{c.Identity, c.ID}] = memChoice{c: c, expires: exp}
	}
	return nil
}

// GetChoice implements Choices.
func (m *Memory) GetChoice(ctx context.Context, consumer Identity, id string) (Choice, error) {
	if err := m.lock(ctx); err != nil {
		return Choice{}, err
	}
	defer m.mu.Unlock()
	c, ok := m.choices[choiceKey{consumer, id}]
	if !ok || !m.opts.Now().Before(c.expires) {
		return Choice{}, fmt.Errorf("choice %q: %w", id, ErrNotFound)
	}
	out := c.c
	out.Metadata = append(json.RawMessage(nil), c.c.Metadata...)
	return out, nil
}

// Inbound implements Store.
func (m *Memory) Inbound() Queue { return m.queues[Inbound] }

// Outbound implements Store.
func (m *Memory) Outbound() Queue { return m.queues[Outbound] }

// DeadLetters implements Store.
func (m *Memory) DeadLetters() DeadLetters { return memDLQ{m} }

type memQueue struct {
	m      *Memory
	name   QueueName
	seq    uint64
	items  map[uint64]Item
	sig    *notify.Seq
	leases map[string]Lease // by key; an expired one is as good as none
	token  uint64           // the last fencing token handed out
}

func (q *memQueue) Name() QueueName { return q.name }

func (q *memQueue) Enqueue(ctx context.Context, msgs ...Message) ([]EnqueueResult, error) {
	for _, msg := range msgs {
		if err := msg.Validate(); err != nil {
			return nil, fmt.Errorf("enqueue %s: %w", q.name, err)
		}
	}
	m := q.m
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	now := m.opts.Now()
	res := make([]EnqueueResult, len(msgs))
	seen := m.dedupeBy[q.name]
	for i, msg := range msgs {
		if msg.DedupeKey != "" {
			if exp, ok := seen[msg.DedupeKey]; ok && now.Before(exp) {
				res[i].Duplicate = true
				continue
			}
			ttl := msg.DedupeTTL
			if ttl <= 0 {
				ttl = m.opts.DedupeTTL
			}
			seen[msg.DedupeKey] = now.Add(ttl)
		}
		q.seq++
		q.items[q.seq] = Item{
			Seq: q.seq, Key: msg.Key, DedupeKey: msg.DedupeKey, Sequence: cloneSeq(msg.Sequence),
			Payload: slices.Clone(msg.Payload), EnqueuedAt: now.UTC(),
		}
		res[i].Seq = q.seq
	}
	q.sig.Advance(q.seq)
	return res, nil
}

func (q *memQueue) Pending(ctx context.Context, after uint64, limit int) ([]Item, error) {
	m := q.m
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	seqs := make([]uint64, 0, len(q.items))
	for s := range q.items {
		if s > after {
			seqs = append(seqs, s)
		}
	}
	slices.Sort(seqs)
	if limit = ClampLimit(limit); len(seqs) > limit {
		seqs = seqs[:limit]
	}
	out := make([]Item, len(seqs))
	for i, s := range seqs {
		out[i] = cloneItem(q.items[s])
	}
	return out, nil
}

func (q *memQueue) Depth(ctx context.Context) (int, error) {
	m := q.m
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	return len(q.items), nil
}

func (q *memQueue) Last() uint64 { return q.sig.Last() }

func (q *memQueue) Wait(ctx context.Context, after uint64) error {
	return q.sig.Wait(ctx, after, ErrClosed)
}

type memDLQ struct{ m *Memory }

func (d memDLQ) List(ctx context.Context, after uint64, limit int) ([]DeadLetter, error) {
	m := d.m
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	ids := slices.Sorted(maps.Keys(m.dlq))
	var out []DeadLetter
	limit = ClampLimit(limit)
	for _, id := range ids {
		if id > after && len(out) < limit {
			out = append(out, cloneDeadLetter(m.dlq[id]))
		}
	}
	return out, nil
}

func (d memDLQ) Get(ctx context.Context, id uint64) (DeadLetter, error) {
	m := d.m
	if err := m.lock(ctx); err != nil {
		return DeadLetter{}, err
	}
	defer m.mu.Unlock()
	e, ok := m.dlq[id]
	if !ok {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, ErrNotFound)
	}
	return cloneDeadLetter(e), nil
}

func (d memDLQ) Replay(ctx context.Context, id uint64) (Item, error) {
	m := d.m
	if err := m.lock(ctx); err != nil {
		return Item{}, err
	}
	defer m.mu.Unlock()
	e, ok := m.dlq[id]
	if !ok {
		return Item{}, fmt.Errorf("replay dead letter %d: %w", id, ErrNotFound)
	}
	q := m.queues[e.Queue]
	delete(m.dlq, id)
	q.seq++
	it := e.Item
	it.Seq = q.seq
	it.Replays++
	q.items[it.Seq] = it
	q.sig.Advance(q.seq)
	return cloneItem(it), nil
}

func (d memDLQ) Drop(ctx context.Context, id uint64) error {
	m := d.m
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.dlq[id]; !ok {
		return fmt.Errorf("drop dead letter %d: %w", id, ErrNotFound)
	}
	delete(m.dlq, id)
	return nil
}

func cloneConsumer(c Consumer) Consumer {
	c.Attrs = maps.Clone(c.Attrs)
	return c
}

func cloneItem(it Item) Item {
	it.Payload = slices.Clone(it.Payload)
	it.Sequence = cloneSeq(it.Sequence)
	return it
}

func cloneSeq(s *int64) *int64 {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

func cloneDeadLetter(d DeadLetter) DeadLetter {
	d.Item = cloneItem(d.Item)
	return d
}
