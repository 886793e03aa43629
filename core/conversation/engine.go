package conversation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// LiveEngage is what the engine needs of the LiveEngage client
// (*liveperson.Client implements it).
type LiveEngage interface {
	CreateConversation(ctx context.Context, req liveperson.ConversationRequest) (liveperson.Conversation, error)
	PublishText(ctx context.Context, conv liveperson.Conversation, text string, md ...liveperson.Metadata) (liveperson.PublishResult, error)
	PublishFile(ctx context.Context, conv liveperson.Conversation, f liveperson.File, md ...liveperson.Metadata) (liveperson.PublishResult, error)
	SetChatState(ctx context.Context, conv liveperson.Conversation, state liveperson.ChatState) error
	SendAcceptStatus(ctx context.Context, conv liveperson.Conversation, status liveperson.AcceptStatus, sequences []int, md ...liveperson.Metadata) error
	CloseConversation(ctx context.Context, conv liveperson.Conversation) error
	SubmitCSAT(ctx context.Context, conv liveperson.Conversation, s liveperson.CSAT) error
	DownloadFile(ctx context.Context, conv liveperson.Conversation, relativePath string) (liveperson.DownloadedFile, error)
}

// Adapter is what the engine needs of a running channel
// (*pluginhost.Channel implements it).
type Adapter interface {
	Description() sdk.Description
	Send(ctx context.Context, msg sdk.OutboundMessage) (sdk.SendResult, error)
	SetTyping(ctx context.Context, to sdk.Address, active bool) error
	MarkRead(ctx context.Context, at sdk.Address, messageIDs []string) error
}

// Adapters finds the running adapter of a channel.
type Adapters interface {
	Adapter(channel string) (Adapter, bool)
}

// ChannelSettings are a channel's conversation settings from the config.
type ChannelSettings struct {
	Routing liveperson.Routing
	// EndKeyword, typed alone by the consumer, closes the conversation.
	EndKeyword string
	// ClosingMessage is sent to the consumer when the agent closes.
	ClosingMessage string
	// CSATPrompt, when set, is sent after the closing message; the
	// consumer's next message, a number from 1 to 5, is sent as CSAT.
	CSATPrompt string
	// TransferMessage, when set, is sent when the agent leaves an open
	// conversation (transferred, or back to the queue).
	TransferMessage string
	// FCRPrompt, when set, is asked after the CSAT answer with FCRYes and
	// FCRNo offered; SurveyRetry precedes a question asked again after a
	// wrong answer; SurveyThanks ends the survey; SurveyTimeout abandons it.
	// SDEs map LiveEngage SDE fields ("personal.firstname",
	// "ctmrinfo.userName", ...) to the consumer fields they come from (see
	// profileOf); the config holds the defaults.
	SDEs                      map[string]string
	FCRPrompt, FCRYes, FCRNo  string
	SurveyRetry, SurveyThanks string
	SurveyTimeout             time.Duration
}

// Options configure an Engine.
type Options struct {
	Store      store.Store
	LiveEngage LiveEngage
	Adapters   Adapters
	// Settings returns a channel's settings; false for an unknown channel.
	Settings func(channel string) (ChannelSettings, bool)
	// Verifier checks LiveEngage webhook signatures.
	Verifier *liveperson.Verifier
	// MaxBodyBytes bounds a webhook body (413 beyond); default 1 MiB.
	MaxBodyBytes int64
	Logger       hclog.Logger
	// Metrics registers the engine's metrics; nil keeps them nowhere.
	Metrics prometheus.Registerer
	// Workers bounds the conversations processed at once per direction; default 64.
	Workers int
	// RetryInitial and RetryMax bound the backoff between attempts at a
	// transiently failing item; defaults 1s and 1m.
	RetryInitial, RetryMax time.Duration
	// EchoWait is how long a publish whose outcome a crash or a timeout left
	// unknown waits for LiveEngage's echo before it is published again;
	// default 2m (LiveEngage retries webhooks with backoff).
	EchoWait time.Duration
	// ReorderWait is how long an agent event waits for a missing earlier
	// sequence of its conversation before it is delivered anyway; default 2s.
	ReorderWait time.Duration
	// DrainTimeout bounds how long Run waits for in-flight items at
	// shutdown; unfinished items stay queued. Default 10s.
	DrainTimeout time.Duration
	// InDoubtWait is how long the message a dead instance may have been
	// sending (the first of a conversation taken over from a lapsed lease)
	// waits for the send to appear in the store's journal before it is sent
	// again; default 30s. See awaitSendRecord.
	InDoubtWait time.Duration
	// InstanceID names this process in the store's leases (and in logs);
	// default: host/pid/random.
	InstanceID string
	// LeaseTTL is how long a claimed conversation key stays this process's
	// without an extension (workers extend it every third of it); after
	// that, another instance may take the key over. Default 30s.
	LeaseTTL time.Duration
}

// Engine moves events between channels and LiveEngage.
type Engine struct {
	opts    Options
	log     hclog.Logger
	metrics *metrics

	// lastSeq is the last LiveEngage sequence delivered per conversation,
	// for reordering (memory only: after a restart nothing is assumed).
	seqMu   sync.Mutex
	lastSeq map[string]int
	// uncertain marks inbound items whose publish may have reached
	// LiveEngage although the call failed (timeouts, 5xx).
	uncertainMu sync.Mutex
	uncertain   map[uint64]bool
	// inHandoff and outHandoff pass what Accept and ServeHTTP decoded to
	// the workers, so a payload is not decoded again (see handoff).
	inHandoff  *handoff[inboundPayload]
	outHandoff *handoff[*liveperson.Notification]
	// started is when Run began; the reorder wait counts from it at the earliest.
	started time.Time

	// claims is what the last claim of each queue said, for readiness;
	// dispatchers are the running ones, for the leases-held gauge.
	claimMu     sync.Mutex
	claimErr    map[store.QueueName]error
	dispatchers map[store.QueueName]*dispatcher
}

// handoffCapacity bounds each handoff: a flood beyond it is decoded from
// the store as before.
const handoffCapacity = 4096

// New builds an engine; Run starts it.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.LiveEngage == nil || opts.Adapters == nil || opts.Settings == nil || opts.Verifier == nil {
		return nil, errors.New("conversation engine: store, liveengage, adapters, settings and verifier are required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry() // kept nowhere
	}
	if opts.RetryInitial <= 0 {
		opts.RetryInitial = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Minute
	}
	if opts.EchoWait <= 0 {
		opts.EchoWait = 2 * time.Minute
	}
	if opts.ReorderWait <= 0 {
		opts.ReorderWait = 2 * time.Second
	}
	if opts.InDoubtWait <= 0 {
		opts.InDoubtWait = 30 * time.Second
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	e := &Engine{opts: opts, log: opts.Logger, lastSeq: map[string]int{}, uncertain: map[uint64]bool{},
		inHandoff: newHandoff[inboundPayload](handoffCapacity), outHandoff: newHandoff[*liveperson.Notification](handoffCapacity)}
	e.claimErr, e.dispatchers = map[store.QueueName]error{}, map[store.QueueName]*dispatcher{}
	e.metrics = newMetrics(opts.Metrics, opts.Store)
	opts.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leconnect_leases_held",
		Help: "Conversations this instance's workers hold now (both queues)."}, func() float64 {
		e.claimMu.Lock()
		defer e.claimMu.Unlock()
		n := 0
		for _, d := range e.dispatchers {
			n += d.heldKeys()
		}
		return float64(n)
	}))
	return e, nil
}

// Run delivers both queues until ctx ends, then lets in-flight items finish
// for up to DrainTimeout. Items not finished stay queued for the next start.
func (e *Engine) Run(ctx context.Context) error {
	e.started = time.Now()
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() {
		<-ctx.Done()
		t := time.AfterFunc(e.opts.DrainTimeout, cancelWork)
		<-work.Done()
		t.Stop()
	}()
	back := backoff{Initial: e.opts.RetryInitial, Max: e.opts.RetryMax}
	observeIn := e.metrics.observe(store.Inbound)
	owner := e.opts.InstanceID
	if owner == "" {
		owner = ownerID()
	}
	in := &dispatcher{queue: e.opts.Store.Inbound(), handle: e.handleInbound, workers: e.opts.Workers, backoff: back,
		owner: owner, leaseTTL: e.opts.LeaseTTL, log: e.log.Named("inbound"), onOutcome: func(it store.Item, r result, took time.Duration) {
			if r.outcome != outcomeRetry {
				e.setUncertain(it.Seq, false) // finished one way or the other
			}
			observeIn(it, r, took)
		}}
	out := &dispatcher{queue: e.opts.Store.Outbound(), handle: e.handleOutbound, workers: e.opts.Workers, backoff: back,
		owner: owner, leaseTTL: e.opts.LeaseTTL, log: e.log.Named("outbound"), pick: e.pickOutbound, onOutcome: e.metrics.observe(store.Outbound)}
	e.claimMu.Lock()
	for _, d := range []*dispatcher{in, out} {
		q := d.queue.Name()
		d.onClaim = func(claims []store.Claim, took time.Duration, err error) { e.observeClaim(q, claims, took, err) }
		d.onLost = e.metrics.leaseLost.WithLabelValues(string(q)).Inc
		e.dispatchers[q] = d
	}
	e.claimMu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, d := range []*dispatcher{in, out} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.run(ctx, work)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// observeClaim records a claim for the metrics and for Claiming.
func (e *Engine) observeClaim(q store.QueueName, claims []store.Claim, took time.Duration, err error) {
	e.metrics.claimSeconds.WithLabelValues(string(q)).Observe(took.Seconds())
	e.metrics.claimedKeys.WithLabelValues(string(q)).Add(float64(len(claims)))
	for _, c := range claims {
		if c.TakenOver {
			e.metrics.takeovers.WithLabelValues(string(q)).Inc()
		}
	}
	e.claimMu.Lock()
	e.claimErr[q] = err
	e.claimMu.Unlock()
}

// Claiming is the readiness check "claims": nil while this instance can
// claim work from both queues (its last claim of each worked), the reason
// otherwise.
func (e *Engine) Claiming(context.Context) error {
	e.claimMu.Lock()
	defer e.claimMu.Unlock()
	if len(e.dispatchers) == 0 {
		return errors.New("not claiming yet")
	}
	var errs []error
	for _, q := range []store.QueueName{store.Inbound, store.Outbound} {
		if err := e.claimErr[q]; err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", q, err))
		}
	}
	return errors.Join(errs...)
}

// ownerID names this process in the queues' leases: host, pid and a
// random part, so a restarted process with the same pid is another owner.
func ownerID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// Accept durably queues a channel's events; it is Host.Deliver. It returns
// nil only once every event is committed or known as a duplicate.
func (e *Engine) Accept(ctx context.Context, channel string, events []sdk.Event) error {
	if _, ok := e.opts.Settings(channel); !ok {
		return sdk.Permanent(fmt.Errorf("channel %q is not configured", channel))
	}
	msgs := make([]store.Message, 0, len(events))
	for _, ev := range events {
		payload, err := jsonMarshal(inboundPayload{V: payloadVersion, Channel: channel, Event: ev})
		if err != nil {
			return sdk.Permanent(fmt.Errorf("encode event %q: %w", ev.ID, err))
		}
		key := identityKey(channel, ev.Consumer.ID)
		if ev.Receipt != nil {
			// Receipts may wait for the agent message they name to be
			// recorded (see receipt); that must not hold up messages.
			key += receiptsKeySuffix
		}
		msgs = append(msgs, store.Message{
			Key:       key,
			DedupeKey: inboundDedupeKey(channel, ev.ID),
			Payload:   payload,
		})
	}
	res, err := e.opts.Store.Inbound().Enqueue(ctx, msgs...)
	if err != nil {
		return fmt.Errorf("store inbound events: %w", err)
	}
	for i, r := range res {
		// Files can be large: those the worker reads from the store.
		if ev := events[i]; !r.Duplicate && (ev.Message == nil || len(ev.Message.Media) == 0) {
			e.inHandoff.put(r.Seq, inboundPayload{V: payloadVersion, Channel: channel, Event: ev})
		}
	}
	e.metrics.accepted(store.Inbound, channel, res)
	return nil
}

// ServeHTTP is POST /webhooks/liveperson: verify over the raw bytes, commit
// every change, answer. It does not wait for adapters, so LiveEngage gets its
// answer fast whatever they are doing.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := e.opts.Verifier.VerifyRequest(r, e.opts.MaxBodyBytes)
	if err != nil {
		status := liveperson.WebhookStatus(err)
		e.log.Warn("liveengage webhook refused", "status", status, "remote", r.RemoteAddr, "err", err)
		e.metrics.webhookRefused(status)
		http.Error(w, http.StatusText(status), status)
		return
	}
	changes, unparsed, err := outboundMessages(body)
	if err != nil {
		e.log.Error("liveengage webhook not stored; LiveEngage will retry", "err", err)
		http.Error(w, "not stored", http.StatusServiceUnavailable)
		return
	}
	if unparsed > 0 {
		e.log.Warn("liveengage notification with changes leconnect cannot act on; answered 200, kept as dead letters",
			"changes", unparsed, "remote", r.RemoteAddr)
		e.metrics.unparsed.Add(float64(unparsed))
	}
	// Echoes of our own publishes (half of what the webhook brings under
	// consumer traffic) are recorded, not queued: they need no delivery.
	var echoes []store.Echo
	queued := changes[:0]
	for _, c := range changes {
		if ours := ourEchoes(c.msg.Key, c.parsed); len(ours) > 0 {
			echoes = append(echoes, ours...)
			continue
		}
		queued = append(queued, c)
	}
	if err := e.commitChanges(r.Context(), queued, echoes); err != nil {
		e.log.Error("liveengage webhook not stored; LiveEngage will retry", "err", err)
		http.Error(w, "not stored", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// commitChanges commits a notification's changes: the echoes recorded, the rest
// queued. Should one write fail, LiveEngage retries the whole: queued
// changes are deduplicated and echoes recorded again.
func (e *Engine) commitChanges(ctx context.Context, changes []queuedChange, echoes []store.Echo) error {
	if len(echoes) > 0 {
		if err := e.opts.Store.RecordEchoes(ctx, echoes...); err != nil {
			return err
		}
		e.metrics.echoesTotal.Add(float64(len(echoes)))
	}
	if len(changes) == 0 {
		return nil
	}
	msgs := make([]store.Message, len(changes))
	for i, c := range changes {
		msgs[i] = c.msg
	}
	res, err := e.opts.Store.Outbound().Enqueue(ctx, msgs...)
	if err != nil {
		return err
	}
	for i, r := range res {
		if !r.Duplicate && changes[i].parsed != nil {
			e.outHandoff.put(r.Seq, changes[i].parsed)
		}
	}
	e.metrics.accepted(store.Outbound, "", res)
	return nil
}
