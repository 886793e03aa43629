package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// State is where a supervised channel is in its life.
type State string

const (
	StateStarting   State = "starting"   // a process is being launched, described, configured, started
	StateRunning    State = "running"    // serving
	StateRestarting State = "restarting" // waiting out the backoff after a crash
	StateFailed     State = "failed"     // not restarted again: crash budget spent, or a refusal no restart cures
	StateStopped    State = "stopped"
)

// Status is a snapshot of a supervised channel.
type Status struct {
	State State
	// Phase is the step under way while starting: launching, describing,
	// configuring, starting.
	Phase    string
	Since    time.Time // when State (or Phase) was entered
	PID      int
	Restarts int   // successful restarts so far
	LastErr  error // why the channel is not running, if it is not
}

// Ready is nil when the channel is running, else says why it is not, in
// words an operator can act on ("configuring for 12s").
func (s Status) Ready() error {
	since := time.Since(s.Since).Round(time.Second)
	switch s.State {
	case StateRunning:
		return nil
	case StateStarting:
		if s.LastErr != nil {
			return fmt.Errorf("%s for %s (after: %w)", s.Phase, since, s.LastErr)
		}
		return fmt.Errorf("%s for %s", s.Phase, since)
	case StateRestarting:
		return fmt.Errorf("restarting (for %s) after: %w", since, s.LastErr)
	case StateFailed:
		return fmt.Errorf("failed: %w", s.LastErr)
	}
	return errors.New(string(s.State))
}

// Channel is a supervised adapter. Its methods forward to the current
// process, each within its deadline; while no process serves they fail with
// an sdk.NotConnected error, which callers retry.
type Channel struct {
	spec     Spec
	timeouts Timeouts
	opts     Options
	host     sdk.HostOptions

	life     context.Context // ends with Stop
	stopLife context.CancelFunc
	done     chan struct{} // closed when supervision ends
	settled  chan struct{} // closed once first running, or failed
	settle   sync.Once

	mu       sync.Mutex
	proc     *live
	starting *client // the process being started, killed by Stop
	desc     *sdk.Description
	status   Status
	crashes  []time.Time
}

// live is a serving process and how responsive it has been.
type live struct {
	*process
	mu     sync.Mutex
	missed map[string]int // per RPC: calls in a row past their deadline
}

// answered records whether a call to rpc missed its deadline.
func (p *live) answered(rpc string, missed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.missed == nil {
		p.missed = map[string]int{}
	}
	if missed {
		p.missed[rpc]++
	} else {
		delete(p.missed, rpc)
	}
}

// worst is the most calls in a row one RPC has missed its deadline. Counting
// per RPC catches an adapter that hangs every Send while answering Health.
func (p *live) worst() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.missed {
		n = max(n, m)
	}
	return n
}

// unanswered reports whether err means the process gave no answer in time.
func unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || sdk.KindOf(err) == sdk.KindNotConnected
}

// Launch supervises the channel's adapter from now until Stop. It returns at
// once: the process is started (Describe, Configure, Start, each within its
// deadline) in the background, so a slow or hung adapter holds up nothing
// else; [Channel.Status] and [Channel.WaitStarted] tell how it goes. A
// crashed, timed-out or unresponsive process is restarted with backoff, and
// after too many crashes in the policy's window the channel is failed.
func Launch(spec Spec, opts Options, d sdk.Deliverer, webhookURL string) *Channel {
	opts = opts.withDefaults()
	spec.Restart = spec.Restart.withDefaults()
	spec.Limits = spec.Limits.withDefaults()
	c := &Channel{spec: spec, timeouts: spec.Timeouts.withDefaults(), opts: opts,
		done: make(chan struct{}), settled: make(chan struct{})}
	c.host = sdk.HostOptions{
		Deliverer:       newBoundedInbox(spec.Channel, spec.Limits, d, opts.Refused),
		WebhookURL:      webhookURL,
		StateDir:        spec.StateDir,
		MaxRequestBytes: int(spec.Limits.MaxInFlightBytes),
		Logger:          opts.Logger.Named("host").With("channel", spec.Channel),
	}
	if opts.Refused != nil {
		c.host.Refused = func(limit string) { opts.Refused(spec.Channel, limit) }
	}
	if opts.Journal != nil {
		c.host.Journal = opts.Journal(spec.Channel)
	}
	if opts.Singletons != nil {
		c.host.Singletons = opts.Singletons(spec.Channel)
	}
	c.life, c.stopLife = context.WithCancel(context.Background())
	c.status = Status{State: StateStarting, Phase: "launching", Since: time.Now()}
	go c.supervise()
	return c
}

// WaitStarted waits until the channel first runs (nil) or fails (its
// reason), or ctx ends.
func (c *Channel) WaitStarted(ctx context.Context) error {
	select {
	case <-c.settled:
		return c.Status().Ready()
	case <-ctx.Done():
		return fmt.Errorf("channel %q: %w (%v)", c.spec.Channel, ctx.Err(), c.Status().Ready())
	}
}

// supervise starts the process, watches it, and restarts it until Stop or
// until the channel fails.
func (c *Channel) supervise() {
	defer close(c.done)
	defer c.settle.Do(func() { close(c.settled) })
	log := c.opts.Logger.With("channel", c.spec.Channel)
	for runs := 0; ; {
		p, err := c.startProcess()
		if err != nil && c.life.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, errPermanent) {
				c.fail(err)
				log.Error("channel failed; not restarting it", "err", err)
				return
			}
			log.Warn("adapter did not start", "err", err)
			if !c.crashed(err) {
				return
			}
			continue
		}
		runs++
		c.mu.Lock()
		if c.life.Err() != nil { // Stop came first (it holds mu to cancel): it did not see p
			c.mu.Unlock()
			p.client.Kill()
			return
		}
		lp := &live{process: p}
		c.proc, c.desc = lp, &p.desc
		c.status = Status{State: StateRunning, Since: time.Now(), PID: p.pid(), Restarts: runs - 1}
		c.mu.Unlock()
		c.settle.Do(func() { close(c.settled) })
		log.Info("adapter running", "pid", p.pid(), "adapter", p.desc.Name, "version", p.desc.Version)

		why := c.watch(lp)
		if c.life.Err() != nil {
			return
		}
		log.Warn("adapter process lost; restarting", "why", why)
		if !c.crashed(why) {
			return
		}
	}
}

// startProcess launches a process and takes it through Describe, Configure
// and Start, each within its deadline.
func (c *Channel) startProcess() (*process, error) {
	c.setPhase("launching")
	cl, err := newClient(c.spec, c.opts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.life.Err() != nil {
		c.mu.Unlock()
		return nil, c.life.Err()
	}
	c.starting = cl
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.starting = nil
		c.mu.Unlock()
	}()
	p, err := handshake(c.life, cl, c.spec, c.setPhase)
	if err != nil {
		return nil, err
	}
	c.setPhase("starting")
	ctx, cancel := context.WithTimeout(c.life, c.timeouts.Start)
	defer cancel()
	if err := p.rpc.Start(ctx, c.host); err != nil {
		p.client.Kill()
		return nil, fmt.Errorf("channel %q: start receiving: %w", c.spec.Channel, deadlineNamed(err, "Start", c.timeouts.Start))
	}
	return p, nil
}

// setPhase records the step of a start under way; LastErr (why the
// channel is being started again) stays for readiness to report.
func (c *Channel) setPhase(phase string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pid := 0
	if c.starting != nil {
		if rc := c.starting.ReattachConfig(); rc != nil {
			pid = rc.Pid
		}
	}
	c.status.State, c.status.Phase, c.status.Since, c.status.PID = StateStarting, phase, time.Now(), pid
}

// watch returns why p stopped serving: it exited, or it missed too many
// deadlines in a row (then it is killed here). It returns early on Stop.
func (c *Channel) watch(p *live) error {
	exit := time.NewTicker(c.opts.ExitPoll)
	defer exit.Stop()
	health := time.NewTicker(c.timeouts.HealthInterval)
	defer health.Stop()
	for {
		select {
		case <-c.life.Done():
			return nil
		case <-exit.C:
		case <-health.C:
			// An answer, even "unhealthy", shows the process serves; only
			// an unanswered check counts against it.
			ctx, cancel := context.WithTimeout(c.life, c.timeouts.Health)
			p.answered("Health", unanswered(p.rpc.Health(ctx)))
			cancel()
		}
		if p.client.Exited() {
			c.drop(p)
			return errors.New("adapter process exited")
		}
		if n := p.worst(); n >= c.timeouts.MaxMissed {
			c.drop(p)
			p.client.Kill()
			return fmt.Errorf("adapter stopped answering: %d calls in a row missed their deadline; killed it", n)
		}
	}
}

// drop stops routing calls to p.
func (c *Channel) drop(p *live) {
	c.mu.Lock()
	if c.proc == p {
		c.proc = nil
	}
	c.mu.Unlock()
}

// crashed counts a crash with its reason. Over the budget it fails the
// channel and returns false; otherwise it waits out the backoff and returns
// whether to start again (false on Stop).
func (c *Channel) crashed(why error) bool {
	now := time.Now()
	c.mu.Lock()
	if c.life.Err() != nil { // stopped: the status says so already
		c.mu.Unlock()
		return false
	}
	c.proc = nil
	c.crashes = append(c.crashes, now)
	cut := 0
	for cut < len(c.crashes) && now.Sub(c.crashes[cut]) > c.spec.Restart.Window {
		cut++
	}
	c.crashes = c.crashes[cut:]
	n := len(c.crashes)
	if n > c.spec.Restart.MaxCrashes {
		c.mu.Unlock()
		c.fail(fmt.Errorf("adapter crashed %d times within %s; not restarting it; last: %w", n, c.spec.Restart.Window, why))
		c.opts.Logger.Error("adapter keeps crashing; channel marked unhealthy", "channel", c.spec.Channel,
			"crashes", n, "window", c.spec.Restart.Window, "last", why)
		return false
	}
	wait := c.spec.Restart.backoff(n)
	c.status = Status{State: StateRestarting, Since: now, Restarts: c.status.Restarts, LastErr: why}
	c.mu.Unlock()
	select {
	case <-c.life.Done():
		return false
	case <-time.After(wait):
		c.mu.Lock()
		c.status.LastErr = why // kept through the next start, so readiness says why
		c.mu.Unlock()
		return true
	}
}

func (c *Channel) fail(err error) {
	c.mu.Lock()
	if c.life.Err() != nil {
		c.mu.Unlock()
		return
	}
	c.proc = nil
	c.status = Status{State: StateFailed, Since: time.Now(), Restarts: c.status.Restarts, LastErr: err}
	c.mu.Unlock()
}

// Name is the channel's name.
func (c *Channel) Name() string { return c.spec.Channel }

// Description is what the adapter last said of itself; ok is false until
// a process has described itself.
func (c *Channel) Description() (sdk.Description, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.desc == nil {
		return sdk.Description{}, false
	}
	return *c.desc, true
}

// Status returns a snapshot of the channel's supervision state.
func (c *Channel) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *Channel) current() (*live, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return nil, sdk.NotConnected(fmt.Errorf("channel %q: adapter is not running: %w", c.spec.Channel, c.status.Ready()))
	}
	return c.proc, nil
}

// call runs one RPC on the current process within its deadline. Missing the
// deadline (ours, not the caller's) counts against the process; any answer
// clears the count.
func (c *Channel) call(ctx context.Context, name string, timeout time.Duration, rpc func(context.Context, *sdk.AdapterClient) error) error {
	p, err := c.current()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = rpc(cctx, p.rpc)
	if ctx.Err() != nil {
		return err // the caller gave up: says nothing about the adapter
	}
	// watch kills the process once one RPC has missed too many in a row.
	missed := errors.Is(err, context.DeadlineExceeded)
	p.answered(name, missed)
	if missed {
		return fmt.Errorf("channel %q: %w", c.spec.Channel, deadlineNamed(err, name, timeout))
	}
	return err
}

// SendIntents is a journal that also keeps each send's intent
// (store.SendJournal's, for one channel, as store.ChannelJournal offers
// it): Send records the intent before the call that hands the message to
// the adapter, so a send whose outcome never got recorded (the adapter
// died while its platform answered) is known to be in doubt.
type SendIntents interface {
	SendState(ctx context.Context, key string) (store.SendState, error)
	BeginSend(ctx context.Context, key string) error
	AbandonSend(ctx context.Context, key string) error
}

// Send forwards to the adapter; see sdk.Adapter. With the core's journal
// it first looks the key up in process: a repeat is answered from it, and
// a send begun and never recorded (the adapter died while its platform
// answered) is in doubt: looked up on the platform by an adapter that can
// (sdk.SendResolver), else resent, or skipped with sdk.ErrSendSkipped when
// the channel says so. With SendIntents it records the intent to send
// right before the call, and abandons it when the call never reached the
// adapter or the platform refused the send.
func (c *Channel) Send(ctx context.Context, msg sdk.OutboundMessage) (res sdk.SendResult, err error) {
	send := (*sdk.AdapterClient).Send
	key := msg.IdempotencyKey
	j := c.host.Journal
	intents, _ := j.(SendIntents)
	switch {
	case key == "" || j == nil:
	case intents != nil:
		st, lerr := intents.SendState(ctx, key)
		switch {
		case lerr != nil: // the adapter looks it up itself
		case st.Sent:
			return sdk.SendResult{MessageIDs: st.MessageIDs}, nil
		case st.InDoubt && c.resolvesSends():
			// The adapter asks its platform whether it went out.
			res, err = c.sendInDoubt(ctx, msg, st.Begun)
			if !errors.Is(err, sdk.ErrCannotResolve) {
				if err == nil {
					c.inDoubt(key, map[bool]string{true: "resolved_sent", false: "resolved_not_sent"}[res.Resolved], st.Begun)
				}
				return res, err
			}
			if c.spec.SkipInDoubt { // it cannot ask (this provider): the policy decides
				c.inDoubt(key, "skipped", st.Begun)
				return sdk.SendResult{}, fmt.Errorf("channel %q: %w", c.spec.Channel, sdk.ErrSendSkipped)
			}
			c.inDoubt(key, "resent", st.Begun)
			send = (*sdk.AdapterClient).SendLookedUp
		case st.InDoubt && c.spec.SkipInDoubt:
			c.inDoubt(key, "skipped", st.Begun)
			return sdk.SendResult{}, fmt.Errorf("channel %q: %w", c.spec.Channel, sdk.ErrSendSkipped)
		case st.InDoubt:
			c.inDoubt(key, "resent", st.Begun)
			send = (*sdk.AdapterClient).SendLookedUp
		default:
			send = (*sdk.AdapterClient).SendLookedUp
		}
	default:
		ids, found, lerr := j.LookupSend(ctx, key)
		switch {
		case lerr == nil && found:
			return sdk.SendResult{MessageIDs: ids}, nil
		case lerr == nil:
			send = (*sdk.AdapterClient).SendLookedUp
		}
	}
	err = c.call(ctx, "Send", c.timeouts.Send, func(ctx context.Context, rpc *sdk.AdapterClient) error {
		if intents != nil && key != "" {
			if err := intents.BeginSend(ctx, key); err != nil {
				return err // not recorded: not sent either; retried
			}
		}
		res, err = send(rpc, ctx, msg)
		return err
	})
	if err != nil && intents != nil && key != "" && notSent(err) {
		if aerr := intents.AbandonSend(context.WithoutCancel(ctx), key); aerr != nil {
			c.opts.Logger.Warn("send not made, but its intent stays recorded (a retry will count it in doubt)", "channel", c.spec.Channel, "key", key, "err", aerr)
		}
	}
	return res, err
}

// notSent: the call never reached the adapter (it was down), or the
// adapter reports that its platform refused the send; either way nothing
// went out, so the send is not in doubt.
func notSent(err error) bool {
	k := sdk.KindOf(err)
	return errors.Is(err, sdk.ErrCallNotDelivered) || k == sdk.KindPermanent || k == sdk.KindRetryAfter
}

// sendInDoubt sends msg, begun at begun and never recorded, to an adapter
// that first asks its platform whether it went out.
func (c *Channel) sendInDoubt(ctx context.Context, msg sdk.OutboundMessage, begun time.Time) (res sdk.SendResult, err error) {
	err = c.call(ctx, "Send", c.timeouts.Send, func(ctx context.Context, rpc *sdk.AdapterClient) error {
		res, err = rpc.SendInDoubt(ctx, msg, begun)
		return err
	})
	return res, err
}

// resolvesSends: the running adapter can ask its platform about a send
// in doubt (sdk.SendResolver).
func (c *Channel) resolvesSends() bool {
	p, err := c.current()
	return err == nil && p.desc.Capabilities.ResolvesSends
}

func (c *Channel) inDoubt(key, outcome string, begun time.Time) {
	if c.opts.InDoubt != nil {
		c.opts.InDoubt(c.spec.Channel, key, outcome, begun)
	}
}

// SetTyping forwards to the adapter; see sdk.TypingSetter.
func (c *Channel) SetTyping(ctx context.Context, to sdk.Address, active bool) error {
	return c.call(ctx, "SetTyping", c.timeouts.Typing, func(ctx context.Context, rpc *sdk.AdapterClient) error {
		return rpc.SetTyping(ctx, to, active)
	})
}

// MarkRead forwards to the adapter; see sdk.ReadMarker.
func (c *Channel) MarkRead(ctx context.Context, at sdk.Address, ids []string) error {
	return c.call(ctx, "MarkRead", c.timeouts.MarkRead, func(ctx context.Context, rpc *sdk.AdapterClient) error {
		return rpc.MarkRead(ctx, at, ids)
	})
}

// HandleWebhook forwards a platform request; see sdk.AdapterClient.HandleWebhook.
func (c *Channel) HandleWebhook(ctx context.Context, r *http.Request, body []byte, publicURL string) (res sdk.WebhookResponse, err error) {
	err = c.call(ctx, "HandleWebhook", c.timeouts.Webhook, func(ctx context.Context, rpc *sdk.AdapterClient) error {
		res, err = rpc.HandleWebhook(ctx, r, body, publicURL)
		return err
	})
	return res, err
}

// Health is nil when the adapter runs and says it is healthy.
func (c *Channel) Health(ctx context.Context) error {
	err := c.call(ctx, "Health", c.timeouts.Health, func(ctx context.Context, rpc *sdk.AdapterClient) error {
		return rpc.Health(ctx)
	})
	if err != nil && sdk.KindOf(err) != sdk.KindNotConnected && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("channel %q: %w", c.spec.Channel, err) // the adapter's own "unhealthy"; call named the rest
	}
	return err
}

// Stop asks the adapter to close, then ends its process (forcefully if it
// does not exit within go-plugin's grace period) and stops supervising. A
// process still starting is killed.
func (c *Channel) Stop(ctx context.Context) error {
	c.mu.Lock()
	already := c.life.Err() != nil
	c.stopLife()
	p, starting := c.proc, c.starting
	c.proc = nil
	if !already {
		c.status = Status{State: StateStopped, Since: time.Now(), Restarts: c.status.Restarts}
	}
	c.mu.Unlock()
	if already {
		<-c.done
		return nil
	}
	if starting != nil {
		starting.Kill()
	}
	var err error
	if p != nil {
		cctx, cancel := context.WithTimeout(ctx, c.timeouts.Close)
		err = p.rpc.Close(cctx)
		cancel()
		p.client.Kill()
	}
	<-c.done
	if err != nil && sdk.KindOf(err) != sdk.KindNotConnected {
		return fmt.Errorf("channel %q: close adapter: %w", c.spec.Channel, err)
	}
	return nil
}
