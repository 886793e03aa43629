package sdk

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Adapter is the contract every channel adapter implements. Optional
// capabilities are separate interfaces: [TypingSetter], [ReadMarker],
// [HealthChecker], and net/http.Handler for adapters that receive platform
// webhooks. Methods may be called concurrently once Start has returned.
type Adapter interface {
	// Describe returns the adapter's name, version and capabilities. It must
	// not depend on Configure. The capabilities must agree with the optional
	// interfaces implemented: Serve refuses to start otherwise.
	Describe() Description

	// Configure validates and applies the channel's config block. It must not
	// contact the platform: `leconnect validate` runs it offline. Report every
	// problem with the block at once as [FieldErrors].
	Configure(ctx context.Context, setup Setup) error

	// Start begins receiving (register a webhook, start polling). ctx stays
	// valid until Close is called, so background work may use it. Deliver
	// inbound events through host.
	Start(ctx context.Context, host Host) error

	// Send delivers one agent message and returns the platform ids of the
	// messages created. It may be retried with the same IdempotencyKey.
	Send(ctx context.Context, msg OutboundMessage) (SendResult, error)

	// Close stops receiving and releases resources.
	Close(ctx context.Context) error
}

// TypingSetter is implemented by adapters whose platform shows the consumer a
// typing indicator. Declare Capabilities.Typing with it.
type TypingSetter interface {
	SetTyping(ctx context.Context, to Address, active bool) error
}

// ReadMarker is implemented by adapters whose platform can show that the
// agent read the consumer's messages. Declare Capabilities.ReadReceipts with it.
type ReadMarker interface {
	MarkRead(ctx context.Context, at Address, messageIDs []string) error
}

// HealthChecker is implemented by adapters that can tell whether they
// currently work (for example, a poller that gets 409 Conflict does not).
// Adapters without it are healthy while their process serves.
// SendResolver is implemented by an adapter whose platform can tell
// whether a send went out. When an earlier attempt of msg began at begun
// and its outcome was never recorded (the adapter died between the
// platform's answer and the record), the SDK asks ResolveSend before
// sending: found, the platform's record answers the Send and nothing is
// sent; not found, it is sent. An error leaves it in doubt; the core
// retries. Declare it with Capabilities.ResolvesSends.
type SendResolver interface {
	ResolveSend(ctx context.Context, msg OutboundMessage, begun time.Time) (res SendResult, found bool, err error)
}

type HealthChecker interface {
	Health(ctx context.Context) error
}

// Host is what the core offers a started adapter.
type Host interface {
	// Deliver hands events to the core and returns nil only once they are
	// durably stored (or recognised as duplicates by their ID). On error
	// nothing is stored: do not acknowledge the platform.
	Deliver(ctx context.Context, events ...Event) error
	// WebhookURL is the public URL the platform must call for this channel.
	WebhookURL() string
	// StateDir is a directory private to this channel that survives
	// restarts, or "" when the core offers none.
	StateDir() string
}

// RunExclusive runs fn while this adapter holds the cluster-wide lease
// named name, for work that must run once however many instances of the
// core run (polling a platform that allows one poller). It waits for the
// lease, runs fn with a context that ends if the lease is lost, and gives
// the lease up when fn returns. It returns fn's error, or one of kind
// KindNotConnected when the lease was lost or could not be held (call it
// again to wait for the lease anew). With a host that holds no leases (an
// older core, a test's fake) it just runs fn.
func RunExclusive(ctx context.Context, host Host, name string, fn func(ctx context.Context) error) error {
	if x, ok := host.(exclusiveRunner); ok {
		return x.runExclusive(ctx, name, fn)
	}
	return fn(ctx)
}

// exclusiveRunner is a Host that holds cluster-wide leases.
type exclusiveRunner interface {
	runExclusive(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// Setup is what Configure receives.
type Setup struct {
	// Channel is the channel's name in the core's config.
	Channel string
	// Config is the channel's own config block; Decode it into your struct.
	Config Config
	// Logger writes JSON to stderr; the core mirrors it into its own log,
	// tagged with the channel. Never log secrets.
	Logger hclog.Logger
}

// Description is what Describe returns.
type Description struct {
	Name         string
	Version      string
	Capabilities Capabilities
}

// Capabilities tell the core what it may ask of the adapter. Content the
// adapter cannot render is turned into plain text by the core.
type Capabilities struct {
	Typing           bool        // SetTyping works (implement TypingSetter)
	ReadReceipts     bool        // MarkRead works (implement ReadMarker)
	DeliveryReceipts bool        // the adapter delivers Receipt events
	MediaKinds       []MediaKind // media the adapter can send
	MaxTextLength    int         // longest text per Send in code points; 0 = no limit
	QuickReplies     bool        // OutboundMessage.QuickReplies are rendered
	Buttons          bool        // OutboundMessage.Buttons are rendered
	Webhooks         bool        // platform webhooks arrive via ServeHTTP (implement net/http.Handler)
	ResolvesSends    bool        // the platform can tell whether a send in doubt went out (implement SendResolver)
}

// MediaKind is a broad kind of file.
type MediaKind int

const (
	MediaUnspecified MediaKind = iota
	MediaImage
	MediaAudio
	MediaVideo
	MediaFile
)

func (k MediaKind) String() string {
	switch k {
	case MediaImage:
		return "image"
	case MediaAudio:
		return "audio"
	case MediaVideo:
		return "video"
	case MediaFile:
		return "file"
	}
	return "unspecified"
}

// Address says where a conversation lives on the platform.
type Address struct {
	ChatID   string // chat, channel or phone number messages go to
	ThreadID string // thread inside the chat, where the platform has threads
}

// Consumer is the person on the channel. ID is required and stable.
type Consumer struct {
	ID          string
	DisplayName string
	FirstName   string
	LastName    string
	Username    string
	Phone       string
	Email       string
	Locale      string
	Attributes  map[string]string
}

// Event is one thing that happened on the channel. Exactly one of Message,
// Typing, Receipt and End is set.
type Event struct {
	// ID is the platform's id for the event, unique within the channel: the
	// core drops an event whose ID it already accepted.
	ID         string
	OccurredAt time.Time
	Address    Address
	Consumer   Consumer

	Message *Message
	Typing  *Typing
	Receipt *Receipt
	End     *EndConversation
}

// Message is something the consumer sent.
type Message struct {
	ID     string // platform message id; MarkRead refers to it
	Text   string
	Media  []Media
	Choice *Choice // the quick reply or button the consumer tapped
	Edited bool    // an edit of an earlier message; Text is the new version
}

// Typing says the consumer started or stopped composing.
type Typing struct{ Active bool }

// ReceiptStatus is how far an agent message got.
type ReceiptStatus int

const (
	ReceiptUnspecified ReceiptStatus = iota
	ReceiptDelivered
	ReceiptRead
)

// Receipt says the consumer's device received or read agent messages.
type Receipt struct {
	Status     ReceiptStatus
	MessageIDs []string // ids returned by Send
}

// EndConversation says the consumer ended the conversation on the platform.
type EndConversation struct{ Reason string }

// Choice is a quick reply or button: offered to the consumer, or chosen.
type Choice struct {
	ID   string // value sent back to LiveEngage
	Text string // what the consumer sees
}

// Media is a file with its bytes.
type Media struct {
	Kind        MediaKind
	ContentType string
	FileName    string
	Data        []byte
	Caption     string // inbound only
}

// OutboundMessage is one agent message for the consumer.
type OutboundMessage struct {
	IdempotencyKey string
	To             Address
	Text           string
	Media          *Media
	QuickReplies   []Choice
	Buttons        []Choice
}

// SendResult lists the platform ids of the messages Send created.
type SendResult struct {
	MessageIDs []string
	// Resolved is set by the SDK, never by an adapter: the send was in
	// doubt and the platform had it (SendResolver), so nothing was sent.
	Resolved bool
}
