package pluginhost

import (
	"context"
	"errors"
	"fmt"
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
	// ExitPoll is how often a running adapter is checked for a crash; default 100ms.
	ExitPoll time.Duration
	// Refused, if set, is told of every Deliver call refused over a bound
	// (limit is one of the sdk.Limit* names); the daemon counts them.
	Refused func(channel, limit string)
	// Journal and Singletons, if set, give a channel's adapter the core's
	// send journal and cluster-wide leases (see sdk.HostOptions).
	Journal    func(channel string) sdk.SendJournal
	Singletons func(channel string) sdk.SingletonHolder
	// InDoubt, if set, is told of every send found in doubt (begun,
	// never recorded) and what became of it: "resent" or "skipped".
	InDoubt func(channel, key, outcome string, begun time.Time)

	// plainConnection turns go-plugin's mutual TLS off: only the package's
	// benchmarks set it, to measure what TLS costs a round trip.
	plainConnection bool
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.ExitPoll <= 0 {
		o.ExitPoll = 100 * time.Millisecond
	}
	return o
}

// process is one running adapter process.
type process struct {
	client *client
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

// errPermanent marks start failures that a restart cannot cure (a refused
// binary, a rejected config): the channel is failed at once.
var errPermanent = errors.New("not restarted")

type permanentError struct{ error }

func (e permanentError) Unwrap() []error { return []error{e.error, errPermanent} }

func permanent(err error) error { return permanentError{err} }

// client is a go-plugin client and the mirror of its process's output.
type client struct {
	*plugin.Client
	logs *adapterLogs
}

// Kill ends the process. Its output left in the pipes is mirrored without
// a rate limit first: go-plugin's Kill waits for the mirror to finish.
func (c *client) Kill() {
	c.logs.unlimit()
	c.Client.Kill()
}

// newClient builds (but does not start) the go-plugin client for spec.
func newClient(spec Spec, opts Options) (*client, error) {
	cmd, err := spec.command(opts.SelfExe)
	if err != nil {
		return nil, permanent(err)
	}
	logs := newAdapterLogs(opts.Logger.Named("adapter").With("channel", spec.Channel), spec.Limits.LogLinesPerSecond)
	return &client{logs: logs, Client: plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         !opts.plainConnection,
		SkipHostEnv:      true,
		StartTimeout:     opts.StartTimeout,
		GRPCDialOptions:  sdk.GRPCDialOptions(),
		Logger:           logs.pluginLogger(),
		SyncStdout:       logs.stream("stdout"),
		SyncStderr:       logs.stream("stderr"),
	})}, nil
}

// handshake starts client's process and runs Describe and Configure, each
// within its deadline; phase is told which step is under way. On error the
// process is killed.
func handshake(ctx context.Context, client *client, spec Spec, phase func(string)) (*process, error) {
	t := spec.Timeouts.withDefaults()
	p, err := func() (*process, error) {
		rpc, err := sdk.Dispense(client.Client)
		if err != nil {
			return nil, fmt.Errorf("channel %q: start adapter %s: %w", spec.Channel, describeBinary(spec), err)
		}
		p := &process{client: client, rpc: rpc}
		phase("describing")
		dctx, cancel := context.WithTimeout(ctx, t.Describe)
		p.desc, err = rpc.Describe(dctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("channel %q: describe adapter: %w", spec.Channel, deadlineNamed(err, "Describe", t.Describe))
		}
		if spec.Path == "" && p.desc.Name != spec.Adapter {
			return nil, permanent(fmt.Errorf("channel %q: built-in adapter %q describes itself as %q", spec.Channel, spec.Adapter, p.desc.Name))
		}
		phase("configuring")
		cctx, cancel := context.WithTimeout(ctx, t.Configure)
		fields, err := rpc.Configure(cctx, spec.Channel, spec.ConfigJSON)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("channel %q: configure adapter: %w", spec.Channel, deadlineNamed(err, "Configure", t.Configure))
		}
		if len(fields) > 0 {
			return nil, permanent(&ConfigError{Channel: spec.Channel, Fields: fields})
		}
		return p, nil
	}()
	if err != nil {
		client.Kill()
		return nil, err
	}
	return p, nil
}

// deadlineNamed says which call missed which deadline, keeping err's chain.
func deadlineNamed(err error, call string, d time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("adapter did not answer %s within %s: %w", call, d, err)
	}
	return err
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
	client, err := newClient(spec, opts)
	if err != nil {
		return sdk.Description{}, err
	}
	p, err := handshake(ctx, client, spec, func(string) {})
	if err != nil {
		return sdk.Description{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, spec.Timeouts.withDefaults().Close)
	defer cancel()
	_ = p.rpc.Close(cctx)
	p.client.Kill()
	return p.desc, nil
}
