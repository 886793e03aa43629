package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Options are shared by every adapter the core runs.
type Options struct {
	// SelfExe is the core's own executable, re-executed for built-in adapters.
	SelfExe string
	// Logger receives the host's logs and the adapters' mirrored logs.
	Logger hclog.Logger
	// StartTimeout bounds the handshake with a new process; default 30s.
	StartTimeout time.Duration
	// CallTimeout bounds Describe, Configure, Start, Health and Close; default 30s.
	CallTimeout time.Duration
	// ExitPoll is how often a running adapter is checked for a crash; default 100ms.
	ExitPoll time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.ExitPoll <= 0 {
		o.ExitPoll = 100 * time.Millisecond
	}
	return o
}

// process is one running adapter process.
type process struct {
	client *plugin.Client
	rpc    *sdk.AdapterClient
	desc   sdk.Description
}

func (p *process) pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// ConfigError is returned when the adapter reports problems with its
// channel's config block.
type ConfigError struct {
	Channel string
	Fields  sdk.FieldErrors
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("channel %q: adapter rejected its config: %v", e.Channel, e.Fields)
}

// start launches the process and runs Describe and Configure.
func start(ctx context.Context, spec Spec, opts Options) (*process, error) {
	cmd, err := spec.command(opts.SelfExe)
	if err != nil {
		return nil, err
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     opts.StartTimeout,
		GRPCDialOptions:  sdk.GRPCDialOptions(),
		Logger:           opts.Logger.Named("adapter").With("channel", spec.Channel),
	})
	rpc, err := sdk.Dispense(client)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("channel %q: start adapter %s: %w", spec.Channel, describeBinary(spec), err)
	}
	p := &process{client: client, rpc: rpc}
	cctx, cancel := context.WithTimeout(ctx, opts.CallTimeout)
	defer cancel()
	if p.desc, err = rpc.Describe(cctx); err != nil {
		client.Kill()
		return nil, fmt.Errorf("channel %q: describe adapter: %w", spec.Channel, err)
	}
	if spec.Path == "" && p.desc.Name != spec.Adapter {
		client.Kill()
		return nil, fmt.Errorf("channel %q: built-in adapter %q describes itself as %q", spec.Channel, spec.Adapter, p.desc.Name)
	}
	fields, err := rpc.Configure(cctx, spec.Channel, spec.ConfigJSON)
	if err == nil && len(fields) > 0 {
		err = &ConfigError{Channel: spec.Channel, Fields: fields}
	}
	if err != nil {
		client.Kill()
		var ce *ConfigError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("channel %q: configure adapter: %w", spec.Channel, err)
	}
	return p, nil
}

func describeBinary(spec Spec) string {
	if spec.Path == "" {
		return fmt.Sprintf("(built-in %q)", spec.Adapter)
	}
	return spec.Path
}

// Check launches the adapter, asks it to describe itself and to validate its
// config, then stops it. It is `leconnect validate`: neither the host nor
// the adapter's Configure contacts any platform. Field problems come back as
// a *ConfigError.
func Check(ctx context.Context, spec Spec, opts Options) (sdk.Description, error) {
	opts = opts.withDefaults()
	p, err := start(ctx, spec, opts)
	if err != nil {
		return sdk.Description{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, opts.CallTimeout)
	defer cancel()
	_ = p.rpc.Close(cctx)
	p.client.Kill()
	return p.desc, nil
}

// State is where a supervised channel is in its life.
type State string

const (
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	StateFailed     State = "failed" // crash budget spent; not restarted again
	StateStopped    State = "stopped"
)

// Status is a snapshot of a supervised channel.
type Status struct {
	State    State
	PID      int
	Restarts int   // successful restarts so far
	LastErr  error // why the channel is not running, if it is not
}

// Channel is a supervised, running adapter. Its methods forward to the
// current process; while the adapter is being restarted they fail with an
// sdk.NotConnected error, which callers retry.
type Channel struct {
	spec       Spec
	opts       Options
	deliverer  sdk.Deliverer
	webhookURL string
	desc       sdk.Description

	mu       sync.Mutex
	proc     *process
	status   Status
	crashes  []time.Time
	stopping bool
	done     chan struct{}
}

// Launch starts the channel's adapter (Describe, Configure, Start) and keeps
// it running until Stop: a crashed process is restarted with backoff, and
// after too many crashes in the policy's window the channel is marked failed.
func Launch(ctx context.Context, spec Spec, opts Options, d sdk.Deliverer, webhookURL string) (*Channel, error) {
	opts = opts.withDefaults()
	spec.Restart = spec.Restart.withDefaults()
	c := &Channel{spec: spec, opts: opts, deliverer: d, webhookURL: webhookURL, done: make(chan struct{})}
	p, err := c.startProcess(ctx)
	if err != nil {
		return nil, err
	}
	c.desc = p.desc
	c.proc = p
	c.status = Status{State: StateRunning, PID: p.pid()}
	go c.supervise()
	return c, nil
}

func (c *Channel) startProcess(ctx context.Context) (*process, error) {
	p, err := start(ctx, c.spec, c.opts)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	if err := p.rpc.Start(cctx, c.deliverer, c.webhookURL, c.spec.StateDir); err != nil {
		p.client.Kill()
		return nil, fmt.Errorf("channel %q: start receiving: %w", c.spec.Channel, err)
	}
	return p, nil
}

// supervise waits for the process to exit and restarts it unless stopping.
func (c *Channel) supervise() {
	defer close(c.done)
	log := c.opts.Logger.With("channel", c.spec.Channel)
	tick := time.NewTicker(c.opts.ExitPoll)
	defer tick.Stop()
	for range tick.C {
		c.mu.Lock()
		p, stopping := c.proc, c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		if p != nil && !p.client.Exited() {
			continue
		}
		// The process died (or a restart failed): count a crash and decide.
		now := time.Now()
		c.mu.Lock()
		c.proc = nil
		c.crashes = append(c.crashes, now)
		cut := 0
		for cut < len(c.crashes) && now.Sub(c.crashes[cut]) > c.spec.Restart.Window {
			cut++
		}
		c.crashes = c.crashes[cut:]
		n := len(c.crashes)
		if n > c.spec.Restart.MaxCrashes {
			c.status = Status{State: StateFailed, Restarts: c.status.Restarts,
				LastErr: fmt.Errorf("adapter crashed %d times within %s; not restarting it", n, c.spec.Restart.Window)}
			c.mu.Unlock()
			log.Error("adapter keeps crashing; channel marked unhealthy", "crashes", n, "window", c.spec.Restart.Window)
			return
		}
		wait := c.spec.Restart.backoff(n)
		c.status.State, c.status.PID = StateRestarting, 0
		if c.status.LastErr == nil {
			c.status.LastErr = errors.New("adapter process exited")
		}
		c.mu.Unlock()
		log.Warn("adapter process exited; restarting", "crashes_in_window", n, "backoff", wait)
		if !c.sleep(wait) {
			return
		}
		p, err := c.startProcess(context.Background())
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			if p != nil {
				p.client.Kill()
			}
			return
		}
		if err != nil {
			c.status.LastErr = err
			c.mu.Unlock()
			log.Error("adapter restart failed", "err", err)
			continue // counted as a crash on the next tick
		}
		c.proc = p
		c.status = Status{State: StateRunning, PID: p.pid(), Restarts: c.status.Restarts + 1}
		c.mu.Unlock()
		log.Info("adapter restarted", "pid", p.pid())
	}
}

// sleep waits d unless Stop is called first; it reports whether to go on.
func (c *Channel) sleep(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return false
		}
		time.Sleep(min(c.opts.ExitPoll, time.Until(deadline)))
	}
	return true
}

// Name is the channel's name.
func (c *Channel) Name() string { return c.spec.Channel }

// Description is what the adapter said of itself at launch.
func (c *Channel) Description() sdk.Description { return c.desc }

// Status returns a snapshot of the channel's supervision state.
func (c *Channel) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *Channel) current() (*sdk.AdapterClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		reason := c.status.LastErr
		if reason == nil {
			reason = errors.New(string(c.status.State))
		}
		return nil, sdk.NotConnected(fmt.Errorf("channel %q: adapter is %s: %w", c.spec.Channel, c.status.State, reason))
	}
	return c.proc.rpc, nil
}

// Send forwards to the adapter; see sdk.Adapter.
func (c *Channel) Send(ctx context.Context, msg sdk.OutboundMessage) (sdk.SendResult, error) {
	rpc, err := c.current()
	if err != nil {
		return sdk.SendResult{}, err
	}
	return rpc.Send(ctx, msg)
}

// SetTyping forwards to the adapter; see sdk.TypingSetter.
func (c *Channel) SetTyping(ctx context.Context, to sdk.Address, active bool) error {
	rpc, err := c.current()
	if err != nil {
		return err
	}
	return rpc.SetTyping(ctx, to, active)
}

// MarkRead forwards to the adapter; see sdk.ReadMarker.
func (c *Channel) MarkRead(ctx context.Context, at sdk.Address, ids []string) error {
	rpc, err := c.current()
	if err != nil {
		return err
	}
	return rpc.MarkRead(ctx, at, ids)
}

// HandleWebhook forwards a platform request; see sdk.AdapterClient.HandleWebhook.
func (c *Channel) HandleWebhook(ctx context.Context, r *http.Request, body []byte, publicURL string) (sdk.WebhookResponse, error) {
	rpc, err := c.current()
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	return rpc.HandleWebhook(ctx, r, body, publicURL)
}

// Health is nil when the adapter runs and says it is healthy.
func (c *Channel) Health(ctx context.Context) error {
	rpc, err := c.current()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	if err := rpc.Health(cctx); err != nil {
		return fmt.Errorf("channel %q: %w", c.spec.Channel, err)
	}
	return nil
}

// Stop asks the adapter to close, then ends its process (forcefully if it
// does not exit within go-plugin's grace period) and stops supervising.
func (c *Channel) Stop(ctx context.Context) error {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	c.stopping = true
	p := c.proc
	c.proc = nil
	c.status = Status{State: StateStopped, Restarts: c.status.Restarts}
	c.mu.Unlock()
	var err error
	if p != nil {
		cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
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
