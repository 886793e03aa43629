package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Implementations wrap them with context; match with errors.Is.
var (
	// ErrNotFound: no record, pending item or dead letter with that key or id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: PutConsumer was given a stale Revision (someone else wrote
	// the record since it was read), or Revision 0 for a record that exists.
	ErrConflict = errors.New("revision conflict")
	// ErrInvalid: the arguments break a documented rule (empty key, negative
	// sequence, oversized key...). Nothing was written.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrLocked: another process holds the database file.
	ErrLocked = errors.New("database file locked by another process")
	// ErrSchemaTooNew: the file was written by a newer leconnect.
	ErrSchemaTooNew = errors.New("database schema newer than this binary supports")
	// ErrDamaged: the store's file is damaged (emptied, truncated,
	// overwritten); nothing was opened, so nothing starts empty.
	ErrDamaged = errors.New("store file damaged")
	// ErrUnwritable: the store cannot write (disk full, read-only file
	// system, no permission, I/O error). The write was not committed;
	// everything committed before is intact, and writes work again once
	// the cause is fixed.
	ErrUnwritable = errors.New("store cannot write")
)

// MaxKeyLen bounds conversation keys, dedupe keys and every identity field, so
// that composite index keys stay well under bbolt's 32 KiB key limit.
const MaxKeyLen = 1024

// Store is everything the conversation engine keeps durably. Each method is
// safe for concurrent use. Writes return only after they are committed to
// stable storage (for the embedded store: fsynced).
type Store interface {
	Consumers
	ConsumerTokens
	Links
	Choices
	DeliveryState
	SendJournal
	Singletons
	// Inbound holds channel events waiting to go to LiveEngage.
	Inbound() Queue
	// Outbound holds verified LiveEngage notifications waiting to go to adapters.
	Outbound() Queue
	// DeadLetters is the one dead-letter list shared by both queues.
	DeadLetters() DeadLetters
	// PurgeExpired deletes at most limit expired dedupe keys, message links
	// and retired conversation owners, oldest first, and returns how many it
	// deleted (limit <= 0: the implementation's default batch). The embedded store
	// also runs it in the background; it is exported for tests and tools.
	PurgeExpired(ctx context.Context, limit int) (int, error)
	// Ping reports whether the store can serve reads (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the store; later calls fail with ErrClosed.
	Close() error
}

// ---- consumers and conversations ------------------------------------------

// Identity names a person on a channel: the channel's configured name and the
// platform's stable consumer id (sdk.Consumer.ID).
type Identity struct {
	Channel    string `json:"channel"`
	ConsumerID string `json:"consumer_id"`
}

func (id Identity) validate() error {
	if id.Channel == "" || id.ConsumerID == "" {
		return fmt.Errorf("identity %q/%q: channel and consumer id are required: %w", id.Channel, id.ConsumerID, ErrInvalid)
	}
	if len(id.Channel) > MaxKeyLen || len(id.ConsumerID) > MaxKeyLen {
		return fmt.Errorf("identity longer than %d bytes: %w", MaxKeyLen, ErrInvalid)
	}
	return nil
}

// Validate reports whether id can be stored.
func (id Identity) Validate() error { return id.validate() }

// Address says where messages for the consumer go on the platform
// (mirrors sdk.Address without importing the SDK).
type Address struct {
	ChatID   string `json:"chat_id"`
	ThreadID string `json:"thread_id,omitempty"`
}

// ConversationState is where a LiveEngage conversation stands for the engine.
type ConversationState string

const (
	// StateNone: no conversation yet, or the last one is forgotten.
	StateNone ConversationState = ""
	// StateOpen: open in LiveEngage; consumer messages are published to it.
	StateOpen ConversationState = "open"
	// StateCSATPending: closed by the agent, a CSAT prompt was sent and the
	// next consumer answer is taken as the CSAT score.
	StateCSATPending ConversationState = "csat_pending"
	// StateClosed: closed; the next consumer message opens a new conversation.
	StateClosed ConversationState = "closed"
)

// Conversation is the consumer's current (or last) LiveEngage conversation.
type Conversation struct {
	ID       string            `json:"id"`
	DialogID string            `json:"dialog_id,omitempty"`
	State    ConversationState `json:"state"`
	OpenedAt time.Time         `json:"opened_at,omitzero"`
	ClosedAt time.Time         `json:"closed_at,omitzero"`
	// Survey is where leconnect's closing survey stands (StateCSATPending).
	Survey Survey `json:"survey,omitzero"`
}

// Survey is the state of leconnect's closing survey of a conversation.
type Survey struct {
	// Stage is the question awaiting an answer: SurveyCSAT or SurveyFCR.
	Stage string `json:"stage,omitempty"`
	// Rate is the CSAT answer once given (1 to 5).
	Rate int `json:"rate,omitempty"`
	// Retried: the question was asked again after a wrong answer.
	Retried bool `json:"retried,omitempty"`
	// AskedAt is when the awaited question was asked.
	AskedAt time.Time `json:"asked_at,omitzero"`
}

// Survey stages.
const (
	SurveyCSAT = "csat"
	SurveyFCR  = "fcr"
)

// Consumer is one channel identity and what LiveEngage knows it as.
type Consumer struct {
	Identity Identity `json:"identity"`
	// Address is where the consumer was last seen; outbound sends go there.
	Address Address `json:"address"`
	// ExtConsumerID is the id the consumer JWS was issued for.
	ExtConsumerID string `json:"ext_consumer_id"`
	// ParticipantID is LiveEngage's id for the consumer as a conversation
	// participant, as its notifications show it; "" until one did. It is
	// how a conversation leconnect did not open (an agent resumed one) is
	// traced back to the consumer.
	ParticipantID string `json:"participant_id,omitempty"`
	// Conversation is the open (or last) conversation; zero ID means none.
	Conversation Conversation `json:"conversation"`
	// Attrs is free engine-owned state (e.g. CSAT question id), stored verbatim.
	Attrs map[string]string `json:"attrs,omitempty"`
	// Revision is set by the store: 0 for a record never stored, then
	// incremented by every successful PutConsumer. Pass back what you read.
	Revision uint64 `json:"revision"`
	// UpdatedAt is set by the store on every PutConsumer.
	UpdatedAt time.Time `json:"updated_at"`
}

// Consumers maps channel identities to consumers and conversations.
type Consumers interface {
	// GetConsumer returns the record for id, or ErrNotFound.
	GetConsumer(ctx context.Context, id Identity) (Consumer, error)
	// PutConsumer stores c if c.Revision equals the stored revision (0 when
	// creating) and returns it with the new Revision and UpdatedAt; otherwise
	// it returns ErrConflict and writes nothing. A non-empty
	// c.Conversation.ID is indexed for ConversationOwner. When the consumer
	// moves on to another conversation, the previous one stays indexed for
	// Options.LinkTTL, so late notifications for it still find their
	// consumer, and is forgotten after that.
	PutConsumer(ctx context.Context, c Consumer) (Consumer, error)
	// ConversationOwner returns the identity whose consumer record ever held
	// conversationID, or ErrNotFound (a conversation leconnect did not open).
	ConversationOwner(ctx context.Context, conversationID string) (Identity, error)
	// ConsumerByParticipant returns the identity whose record holds
	// participantID (PutConsumer indexes a non-empty ParticipantID, the
	// newest record to claim one wins), or ErrNotFound.
	ConsumerByParticipant(ctx context.Context, participantID string) (Identity, error)
}

// UpdateConsumer reads id's record (a zero Consumer with Identity set when
// there is none), applies fn, and stores the result, re-reading and
// re-applying fn on ErrConflict up to a few times. fn must only modify c; it
// may run more than once. It returns the stored record.
func UpdateConsumer(ctx context.Context, s Consumers, id Identity, fn func(c *Consumer) error) (Consumer, error) {
	const attempts = 8
	for range attempts {
		c, err := s.GetConsumer(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			c = Consumer{Identity: id}
		case err != nil:
			return Consumer{}, err
		}
		if err := fn(&c); err != nil {
			return Consumer{}, err
		}
		c.Identity = id // fn must not move the record
		out, err := s.PutConsumer(ctx, c)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return out, err
	}
	return Consumer{}, fmt.Errorf("update consumer %s/%s: gave up after %d attempts: %w", id.Channel, id.ConsumerID, attempts, ErrConflict)
}

// ConsumerTokens persists consumer JWS per ext_consumer_id. Its method set is
// liveperson.ConsumerTokenStore's, so a Store can be handed to the LiveEngage
// client directly.
type ConsumerTokens interface {
	// GetConsumerToken returns the stored JWS; ok is false when there is none.
	GetConsumerToken(ctx context.Context, extConsumerID string) (token string, ok bool, err error)
	// PutConsumerToken stores (or replaces) the JWS.
	PutConsumerToken(ctx context.Context, extConsumerID, token string) error
}

// ---- message links (receipts) ----------------------------------------------

// MessageLink ties a platform message to a LiveEngage message: an agent
// message (ConversationID, Sequence) delivered as one or more platform
// messages, or a consumer platform message published to LiveEngage as
// Sequence. Platform ids are scoped by channel and chat because some
// platforms (Telegram) number messages per chat.
type MessageLink struct {
	Channel          string `json:"channel"`
	ChatID           string `json:"chat_id"`
	ChannelMessageID string `json:"channel_message_id"`
	ConversationID   string `json:"conversation_id"`
	Sequence         int64  `json:"sequence"`
}

// Validate reports whether l can be stored.
func (l MessageLink) Validate() error {
	if l.Channel == "" || l.ChatID == "" || l.ChannelMessageID == "" || l.ConversationID == "" {
		return fmt.Errorf("message link: channel, chat id, channel message id and conversation id are required: %w", ErrInvalid)
	}
	if l.Sequence < 0 {
		return fmt.Errorf("message link: negative sequence %d: %w", l.Sequence, ErrInvalid)
	}
	for _, s := range []string{l.Channel, l.ChatID, l.ChannelMessageID, l.ConversationID} {
		if len(s) > MaxKeyLen {
			return fmt.Errorf("message link: field longer than %d bytes: %w", MaxKeyLen, ErrInvalid)
		}
	}
	return nil
}

// Links is the map between platform message ids and LiveEngage sequences.
// Links expire after Options.LinkTTL (receipts older than that are dropped).
type Links interface {
	// PutLinks stores links in one commit; re-putting a link refreshes it.
	PutLinks(ctx context.Context, links ...MessageLink) error
	// LinkByChannelMessage finds the LiveEngage side of a platform message
	// (consumer read an agent message), or ErrNotFound.
	LinkByChannelMessage(ctx context.Context, channel, chatID, channelMessageID string) (MessageLink, error)
	// LinksBySequence finds the platform messages of a LiveEngage message
	// (agent read a consumer message); empty, not an error, when none.
	LinksBySequence(ctx context.Context, conversationID string, sequence int64) ([]MessageLink, error)
}

// Effects are what a done item leaves behind; they commit with its ack.
type Effects struct {
	// Links map platform messages to LiveEngage sequences (receipts).
	Links []MessageLink
	// Echoes are LiveEngage's echoes of publishes leconnect tagged.
	Echoes []Echo
	// Handled, when set, is the last LiveEngage sequence handled in a
	// conversation (kept per conversation, the highest wins).
	Handled *Handled
}

// Validate reports effects that cannot be stored.
func (fx Effects) Validate() error {
	for _, l := range fx.Links {
		if err := l.Validate(); err != nil {
			return err
		}
	}
	for _, e := range fx.Echoes {
		if e.ConversationID == "" || e.ExternalID == "" || len(e.ConversationID)+len(e.ExternalID) > MaxKeyLen {
			return fmt.Errorf("echo %+v: conversation and external id are required: %w", e, ErrInvalid)
		}
	}
	if h := fx.Handled; h != nil && (h.ConversationID == "" || len(h.ConversationID) > MaxKeyLen) {
		return fmt.Errorf("handled %+v: conversation id is required: %w", *h, ErrInvalid)
	}
	return nil
}

// Echo says LiveEngage took the publish leconnect tagged ExternalID in
// ConversationID, at Sequence.
type Echo struct {
	ConversationID string `json:"conversation_id"`
	ExternalID     string `json:"external_id"`
	Sequence       int64  `json:"sequence"`
}

// Handled is the last LiveEngage sequence handled in a conversation.
type Handled struct {
	ConversationID string `json:"conversation_id"`
	Sequence       int64  `json:"sequence"`
}

// DeliveryState is what the engine keeps to deliver exactly once and in
// order across crashes, each behind its own method. Everything expires
// after Options.LinkTTL.
type DeliveryState interface {
	// AwaitEcho returns the sequence of LiveEngage's echo of the publish
	// tagged externalID in conversationID as soon as it is recorded (by an
	// ack's Effects), or ErrNotFound at deadline; it does not poll.
	AwaitEcho(ctx context.Context, conversationID, externalID string, deadline time.Time) (int64, error)
	// LastHandled is the last sequence handled in the conversation; found
	// is false when none is recorded (or it expired).
	LastHandled(ctx context.Context, conversationID string) (sequence int64, found bool, err error)
	// RecordEchoes records LiveEngage's echoes of publishes leconnect
	// tagged, in one commit and with no queue item (an echo needs no
	// delivery), and wakes AwaitEcho. Recording an echo again refreshes it.
	RecordEchoes(ctx context.Context, echoes ...Echo) error
	// EchoedThrough is the highest sequence s such that an echo is recorded
	// for every sequence after+1..s of the conversation, or after when
	// there is none for after+1. Those are consumer events leconnect
	// published: no agent event is missing there, so ordering need not
	// wait for one.
	EchoedThrough(ctx context.Context, conversationID string, after int64) (int64, error)
	// PutUnowned records an open conversation no consumer record owns (one
	// leconnect opened just before a crash), by its consumer participant.
	PutUnowned(ctx context.Context, participantID, conversationID string) error
	// AwaitUnowned returns the open conversation recorded for participantID
	// as soon as there is one, or ErrNotFound at deadline; it does not poll.
	AwaitUnowned(ctx context.Context, participantID string, deadline time.Time) (string, error)
	// AwaitLink is LinkByChannelMessage that waits, until deadline, for the
	// link to be committed (a receipt can arrive before the send it names
	// is recorded); ErrNotFound at deadline; it does not poll.
	AwaitLink(ctx context.Context, channel, chatID, channelMessageID string, deadline time.Time) (MessageLink, error)
}

// Choice is one structured-content element (a quick reply or a button) the
// engine offered a consumer: what a click on it reports to LiveEngage.
type Choice struct {
	Identity Identity `json:"identity"`
	// ID is what the adapter was given as the choice's id, and gives back
	// when the consumer picks it.
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	// Sequence is the agent event that offered the element.
	Sequence int64 `json:"sequence"`
	// Metadata is the element's click metadata (a JSON array), as the agent
	// side sent it; nil when it had none.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// PublishText is the text the element's publishText action sends; ""
	// when its action publishes nothing (a link).
	PublishText string `json:"publish_text,omitempty"`
}

// Validate reports a choice that cannot be stored.
func (c Choice) Validate() error {
	if err := c.Identity.validate(); err != nil {
		return err
	}
	if c.ID == "" || len(c.ID) > MaxKeyLen || c.ConversationID == "" {
		return fmt.Errorf("choice %q: id (at most %d bytes) and conversation id are required: %w", c.ID, MaxKeyLen, ErrInvalid)
	}
	return nil
}

// Choices keeps the elements offered to consumers, so a click is reported
// with the element's metadata. Choices expire after Options.LinkTTL, like
// message links (a click on an older message publishes its label only).
type Choices interface {
	// PutChoices stores choices in one commit; re-putting one refreshes it.
	PutChoices(ctx context.Context, choices ...Choice) error
	// GetChoice finds what id offered the consumer, or ErrNotFound.
	GetChoice(ctx context.Context, consumer Identity, id string) (Choice, error)
}

// ---- queues -------------------------------------------------------------------

// QueueName names one of the two queues.
type QueueName string

const (
	Inbound  QueueName = "inbound"
	Outbound QueueName = "outbound"
)

// Valid reports whether q names a queue.
func (q QueueName) Valid() bool { return q == Inbound || q == Outbound }

// Message is one record to enqueue.
type Message struct {
	// Key orders items: items with the same Key are handed out in enqueue
	// order. Keys are UTF-8 (NUL allowed). The engine uses the conversation key (e.g. channel + consumer id
	// inbound, conversation id outbound). Required.
	Key string
	// DedupeKey, when set, makes Enqueue skip the message if the same key was
	// accepted by this queue within its TTL (inbound: channel + platform event
	// id; outbound: conversation id + sequence, or the event identity).
	DedupeKey string
	// DedupeTTL overrides Options.DedupeTTL for this key when positive.
	DedupeTTL time.Duration
	// Sequence is the item's LiveEngage sequence, for outbound messaging
	// events (the dispatcher orders a key's items by it); nil for none.
	Sequence *int64
	// Payload is opaque to the store.
	Payload []byte
}

// Validate reports whether m can be enqueued.
func (m Message) Validate() error {
	if m.Key == "" {
		return fmt.Errorf("message: empty key: %w", ErrInvalid)
	}
	if len(m.Key) > MaxKeyLen || len(m.DedupeKey) > MaxKeyLen {
		return fmt.Errorf("message: key or dedupe key longer than %d bytes: %w", MaxKeyLen, ErrInvalid)
	}
	if m.DedupeTTL < 0 {
		return fmt.Errorf("message: negative dedupe ttl: %w", ErrInvalid)
	}
	if !utf8.ValidString(m.Key) || !utf8.ValidString(m.DedupeKey) {
		return fmt.Errorf("message: key or dedupe key is not UTF-8: %w", ErrInvalid)
	}
	return nil
}

// Item is a queued message.
type Item struct {
	// Seq is the queue-wide position, strictly increasing in commit order and
	// never reused; Pending returns items in Seq order.
	Seq        uint64    `json:"seq"`
	Key        string    `json:"key"`
	DedupeKey  string    `json:"dedupe_key,omitempty"`
	Sequence   *int64    `json:"sequence,omitempty"` // see Message.Sequence
	Payload    []byte    `json:"payload"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	// Attempts counts MarkAttempted calls: a worker marks an item before a
	// side effect that may not be repeatable (publishing to LiveEngage), so
	// after a crash Attempts > 0 says "maybe done already, check first".
	Attempts int `json:"attempts,omitempty"`
	// Replays counts how often the item came back from the dead-letter list.
	Replays int `json:"replays,omitempty"`
}

// EnqueueResult says what happened to one Message of a batch.
type EnqueueResult struct {
	// Seq is the new item's position; 0 when Duplicate.
	Seq uint64
	// Duplicate: the DedupeKey was already accepted within its TTL (earlier,
	// or earlier in the same batch); nothing was stored for this message.
	Duplicate bool
}

// Queue is a durable FIFO with per-key order, consumed through Leases.
//
// Consumption pattern (see the package doc): workers Claim keys, work each
// claimed key's items in order under its lease, and Ack (or DeadLetter)
// each; every write to an item carries the lease. When nothing is left to
// claim they Wait past the Last seq they read before claiming. After a
// restart every item not acked is claimed again, in order.
type Queue interface {
	// Name is Inbound or Outbound.
	Name() QueueName
	// Enqueue commits msgs atomically (all or none) and returns one result
	// per message, in order, once the commit is on stable storage. Dedupe
	// checks are part of the same transaction. Cancelling ctx after the call
	// started does not abort the commit.
	Enqueue(ctx context.Context, msgs ...Message) ([]EnqueueResult, error)
	// Pending returns up to limit items with Seq > after, in Seq order
	// (limit <= 0 or above 10000 means 10000), whoever holds their keys:
	// for inspection, not for consuming.
	Pending(ctx context.Context, after uint64, limit int) ([]Item, error)
	// Depth is the number of pending items.
	Depth(ctx context.Context) (int, error)
	// Last is the queue's wake mark: it grows whenever items are committed
	// (0 before any; the embedded store: the highest Seq; PostgreSQL: a
	// count of the commits it heard of). Read it before looking for work,
	// then Wait(Last) misses nothing.
	Last() uint64
	// Wait returns nil once the mark is past after (items were committed
	// since after was read; possibly acked already), or ctx's error.
	Wait(ctx context.Context, after uint64) error
	// Leases is the queue's contract for many processes: work handed out by
	// key under a lease, every write fenced by it.
	Leases() Leases
}

// ---- leases -------------------------------------------------------------------

// Lease is one owner's exclusive hold on one key of a queue until Expires.
// Only the holder reads and changes the key's items, so per-key order holds
// across processes. Token is a fencing token: unique, and larger every time
// any key changes hands, so a write under a lease that expired or moved is
// told apart from the current holder's.
type Lease struct {
	Queue   QueueName `json:"queue"`
	Key     string    `json:"key"`
	Owner   string    `json:"owner"`
	Token   uint64    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Claim is a key handed to an owner: its lease and its first items in order.
type Claim struct {
	Lease Lease
	Items []Item
	// TakenOver: the key's previous lease had lapsed without being given
	// back (its holder died or stalled); the items may have been worked on.
	TakenOver bool
}

// ErrLeaseLost is returned by a write whose lease expired or moved to
// another owner (or token); the write changed nothing.
var ErrLeaseLost = errors.New("lease lost")

// Leases hands out a queue's work by key. A lease is live until its expiry;
// after that any owner may claim the key, and writes under the old lease
// are refused with ErrLeaseLost, even if nobody claimed it yet.
type Leases interface {
	// Claim gives owner up to maxKeys keys that have pending items and no
	// live lease, oldest item first, each with a new lease of ttl and up to
	// maxItems of its first items in Seq order.
	Claim(ctx context.Context, owner string, maxKeys, maxItems int, ttl time.Duration) ([]Claim, error)
	// Items returns up to limit of l's key's items with Seq > after, in order.
	Items(ctx context.Context, l Lease, after uint64, limit int) ([]Item, error)
	// Extend renews a live lease for ttl from now and returns it.
	Extend(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release gives the key up (its items stay for the next claim); a
	// lease already lost is no error to release.
	Release(ctx context.Context, l Lease) error
	// Ack deletes seq, one of l's key's items, and stores its effects in the
	// same commit; acking an item gone already is no error. When the key
	// has no pending item left, the same commit releases the lease and
	// drained is true: the holder is done with the key, and a later item
	// of it is claimed anew.
	Ack(ctx context.Context, l Lease, seq uint64, fx Effects) (drained bool, err error)
	// MarkAttempted increments the item's Attempts (see Item); ErrNotFound
	// when it is not pending.
	MarkAttempted(ctx context.Context, l Lease, seq uint64) error
	// DeadLetter moves the item to the dead-letter list; ErrNotFound when it
	// is not pending.
	DeadLetter(ctx context.Context, l Lease, seq uint64, reason string) (DeadLetter, error)
}

// ---- send journal -------------------------------------------------------------

// SendJournal remembers what each adapter send became on its platform, by
// channel and the send's idempotency key, so a send repeated by any
// instance (after a crash or a takeover) is answered from the journal
// instead of reaching the consumer twice. Adapters reach it through the
// Host service. Entries expire after Options.LinkTTL.
type SendJournal interface {
	// RecordSend stores that the send key on channel went out as
	// messageIDs (possibly none); recording a key again replaces it.
	RecordSend(ctx context.Context, channel, key string, messageIDs []string) error
	// LookupSend returns what RecordSend stored; found is false when the
	// key was never recorded (or expired), begun or not.
	LookupSend(ctx context.Context, channel, key string) (messageIDs []string, found bool, err error)
	// BeginSend records, before the send key goes to the adapter, that it
	// is about to (an intent): should neither RecordSend nor AbandonSend
	// follow, the send is in doubt (SendState). A key already recorded is
	// left as it is; one begun already keeps its first Begun.
	BeginSend(ctx context.Context, channel, key string) error
	// AbandonSend removes the intent of a send the platform refused (it
	// did not go out); a recorded send is left as it is.
	AbandonSend(ctx context.Context, channel, key string) error
	// SendState reads the key's record in one lookup: sent (recorded), in
	// doubt (begun, neither recorded nor abandoned) or neither.
	SendState(ctx context.Context, channel, key string) (SendState, error)
}

// ChannelJournal is one channel's view of a SendJournal: what the core
// offers that channel's adapter (LookupSend, RecordSend: sdk.SendJournal)
// and keeps itself around each send (pluginhost.SendIntents).
type ChannelJournal struct {
	Journal SendJournal
	Channel string
}

func (j ChannelJournal) LookupSend(ctx context.Context, key string) ([]string, bool, error) {
	return j.Journal.LookupSend(ctx, j.Channel, key)
}

func (j ChannelJournal) RecordSend(ctx context.Context, key string, ids []string) error {
	return j.Journal.RecordSend(ctx, j.Channel, key, ids)
}

func (j ChannelJournal) BeginSend(ctx context.Context, key string) error {
	return j.Journal.BeginSend(ctx, j.Channel, key)
}

func (j ChannelJournal) AbandonSend(ctx context.Context, key string) error {
	return j.Journal.AbandonSend(ctx, j.Channel, key)
}

func (j ChannelJournal) SendState(ctx context.Context, key string) (SendState, error) {
	return j.Journal.SendState(ctx, j.Channel, key)
}

// SendState is what the send journal knows of one send key.
type SendState struct {
	// Sent: RecordSend stored the send's platform ids.
	Sent       bool
	MessageIDs []string
	// InDoubt: a send was begun at Begun and its outcome never recorded:
	// the adapter may have died between the platform's answer and the
	// record, so it may or may not have gone out.
	InDoubt bool
	Begun   time.Time
}

// ---- singletons ---------------------------------------------------------------

// SingletonLease is one owner's hold on a named piece of work that must run
// once per cluster (Telegram polling, the expiry purge) until Expires.
// Token grows every time the name changes hands or its lease lapsed.
type SingletonLease struct {
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Token   uint64    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Singletons hands out named leases. The holder renews its lease well
// before it expires (AcquireSingleton again) and stops the work when a
// renewal says it is no longer held; another owner gets the name once the
// lease lapsed or was released, so failover is bounded by the ttl.
type Singletons interface {
	// AcquireSingleton gives owner the lease named name for ttl from now
	// when it is free, lapsed or owner's already (then renewed under the
	// same token). held is false, and lease is the current holder's, when
	// another owner holds it live.
	AcquireSingleton(ctx context.Context, name, owner string, ttl time.Duration) (lease SingletonLease, held bool, err error)
	// ReleaseSingleton gives the name up at once if lease still holds it.
	ReleaseSingleton(ctx context.Context, lease SingletonLease) error
}

// ValidateSingleton reports singleton arguments that break the rules.
func ValidateSingleton(name, owner string, ttl time.Duration) error {
	if name == "" || owner == "" || ttl <= 0 || len(name) > MaxKeyLen || len(owner) > MaxKeyLen {
		return fmt.Errorf("singleton %q for %q: name, owner (at most %d bytes) and ttl are required: %w", name, owner, MaxKeyLen, ErrInvalid)
	}
	return nil
}

// ValidateSend reports a send journal entry that cannot be stored.
func ValidateSend(channel, key string) error {
	if channel == "" || key == "" || len(channel) > MaxKeyLen || len(key) > MaxKeyLen {
		return fmt.Errorf("send %q on %q: channel and key (at most %d bytes) are required: %w", key, channel, MaxKeyLen, ErrInvalid)
	}
	return nil
}

// ---- dead letters -------------------------------------------------------------

// DeadLetter is an item an operator has to look at.
type DeadLetter struct {
	// ID is the dead-letter list's own strictly increasing id.
	ID     uint64    `json:"id"`
	Queue  QueueName `json:"queue"`
	Item   Item      `json:"item"`
	Reason string    `json:"reason"`
	DeadAt time.Time `json:"dead_at"`
}

// DeadLetters is the list behind `leconnect dlq list | replay | drop`.
type DeadLetters interface {
	// List returns up to limit entries with ID > after, oldest first
	// (limit <= 0 or above 10000 means 10000).
	List(ctx context.Context, after uint64, limit int) ([]DeadLetter, error)
	// Get returns one entry or ErrNotFound.
	Get(ctx context.Context, id uint64) (DeadLetter, error)
	// Replay moves the entry back to its queue and returns the new item.
	// The item gets a new Seq at the tail of the queue (so a dispatcher
	// reading forward from its cursor sees it), behind anything already
	// queued for the same Key: replay never jumps ahead of newer messages.
	// Its dedupe key is not checked again (it was accepted once) and
	// Replays is incremented. ErrNotFound when id is not in the list.
	Replay(ctx context.Context, id uint64) (Item, error)
	// Drop deletes the entry for good; ErrNotFound when id is not in the
	// list. The item's dedupe key stays until its TTL, so a platform retry
	// of a dropped event is still recognised as a duplicate.
	Drop(ctx context.Context, id uint64) error
}

// ---- options ------------------------------------------------------------------

// Options are shared by every implementation. The zero value is usable.
type Options struct {
	// DedupeTTL is how long an accepted dedupe key suppresses duplicates.
	// Default 24h (LiveEngage and the platforms retry for far less).
	DedupeTTL time.Duration
	// LinkTTL is how long message links are kept for receipts, and how long
	// a conversation the consumer moved on from still has an owner
	// (ConversationOwner). Default 7 days.
	LinkTTL time.Duration
	// Now is the clock; default time.Now. Tests move it to expire keys.
	Now func() time.Time
}

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = 24 * time.Hour
	}
	if o.LinkTTL <= 0 {
		o.LinkTTL = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// PurgeInBatches runs purge (a store's PurgeExpired) until a batch of limit
// comes back short, at most 100 times: several bounded transactions rather
// than one long one. Stores call it from their background sweep.
func PurgeInBatches(ctx context.Context, purge func(ctx context.Context, limit int) (int, error), limit int) error {
	for range 100 {
		n, err := purge(ctx, limit)
		if err != nil || n < limit {
			return err
		}
	}
	return nil
}

// ClampLimit turns a caller's limit into a sane page size.
func ClampLimit(limit int) int {
	const maxLimit = 10000
	if limit <= 0 || limit > maxLimit {
		return maxLimit
	}
	return limit
}
