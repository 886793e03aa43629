package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leconnect/leconnect/core/admin"
	"github.com/leconnect/leconnect/core/buildinfo"
	"github.com/leconnect/leconnect/core/builtin"
	"github.com/leconnect/leconnect/core/config"
	"github.com/leconnect/leconnect/core/conversation"
	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/pluginhost"
	"github.com/leconnect/leconnect/core/server"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/boltstore"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// Options configure Run.
type Options struct {
	ConfigPath string
	// SelfExe is this binary, re-executed for built-in adapters.
	SelfExe string
	// LogOutput receives the daemon's log; default stderr.
	LogOutput io.Writer
	// Ready, if set, receives the HTTP address once the daemon serves.
	Ready chan<- string
	// Reload triggers a config reload; default SIGHUP.
	Reload <-chan os.Signal
}

// Run serves until ctx is cancelled (SIGINT/SIGTERM in the CLI), then shuts
// down in reverse start order.
func Run(ctx context.Context, opts Options) error {
	reloader, warnings, err := config.NewReloader(opts.ConfigPath, config.WithBuiltinAdapters(builtin.Names()...))
	if err != nil {
		return err
	}
	cfg := reloader.Current()
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name: "leconnect", Level: cfg.Log.HCLogLevel(), JSONFormat: cfg.Log.JSON(), Output: opts.LogOutput,
	})
	for _, w := range warnings {
		log.Warn("config: " + w.Error())
	}

	d := &daemon{opts: opts, log: log, reloader: reloader, cfg: cfg, channels: &channelSet{byName: map[string]*pluginhost.Channel{}},
		metrics: prometheus.NewRegistry()}
	d.refusedDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leconnect_deliver_refused_total",
		Help: "Deliver calls from adapters refused over a bound (limit: max_text_chars, max_media_bytes, max_batch_events, max_in_flight_bytes); nothing of them was stored.",
	}, []string{"channel", "limit"})
	d.httpBusy = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "leconnect_http_busy_total",
		Help: "Requests answered 503 because server.max_in_flight webhooks were being handled, or connections refused past server.max_connections.",
	})
	d.metrics.MustRegister(buildinfo.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), d.refusedDeliveries, d.httpBusy)

	var stops []func(context.Context) error
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), d.cfg.Server.ShutdownTimeout)
		defer cancel()
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](sctx))
		}
		return errors.Join(errs...)
	}

	st, err := OpenStore(ctx, cfg, StoreOptions{Logger: log.Named("store")})
	if err != nil {
		return err
	}
	stops = append(stops, func(context.Context) error { return st.Close() })
	d.hostOpts = d.hostOptions(cfg, st, log.Named("singletons"))
	if bs, ok := st.(*boltstore.Store); ok {
		d.metrics.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "leconnect_store_commits_total",
			Help: "Write transactions the embedded store committed (each one fsync; concurrent writes share one).",
		}, func() float64 { return float64(bs.Stats().Commits) }))
	}
	if rt, ok := st.(interface{ RoundTrips() uint64 }); ok {
		d.metrics.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "leconnect_store_round_trips_total",
			Help: "Round trips to the PostgreSQL store (each query, BEGIN and COMMIT included, and each pipelined batch).",
		}, func() float64 { return float64(rt.RoundTrips()) }))
	}
	// The store is locked while we run: `leconnect dlq` reaches it here.
	if stopAdmin, err := admin.Serve(admin.SocketPath(cfg.Store.Path), admin.Handler(st.DeadLetters())); err != nil {
		log.Warn("no admin socket; `leconnect dlq` works only while the daemon is stopped", "err", err)
	} else {
		stops = append(stops, func(context.Context) error { return stopAdmin() })
	}

	le, err := liveperson.New(liveperson.Config{
		AccountID: cfg.LiveEngage.AccountID, ClientID: cfg.LiveEngage.ClientID, ClientSecret: cfg.LiveEngage.ClientSecret,
		DomainAPI: cfg.LiveEngage.DomainAPI,
		Retry: liveperson.RetryPolicy{
			RateLimitMin:      cfg.LiveEngage.Retry.RateLimitWait,
			ServerErrorDelays: cfg.LiveEngage.Retry.ServerErrorWaits,
			OuterInitial:      cfg.LiveEngage.Retry.OuterBackoff,
			OuterMax:          cfg.LiveEngage.Retry.OuterBackoffMax,
		},
		ConsumerTokens: st,
		Logger:         log.Named("liveengage"),
		Metrics:        d.metrics,
	})
	if err != nil {
		return errors.Join(fmt.Errorf("liveengage: %w", err), shutdown())
	}
	stops = append(stops, func(context.Context) error { le.Close(); return nil })
	verifier, err := liveperson.NewVerifier(cfg.LiveEngage.AccountID, cfg.LiveEngage.ClientID, cfg.LiveEngage.ClientSecret)
	if err != nil {
		return errors.Join(fmt.Errorf("liveengage: %w", err), shutdown())
	}

	engine, err := conversation.New(conversation.Options{
		Store: st, LiveEngage: le, Adapters: d.channels, Settings: d.settings, Verifier: verifier,
		Logger: log.Named("engine"), Metrics: d.metrics, MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Workers: cfg.Delivery.Workers, RetryInitial: cfg.Delivery.RetryInitial, RetryMax: cfg.Delivery.RetryMax,
		EchoWait: cfg.Delivery.EchoWait, ReorderWait: cfg.Delivery.ReorderWait, DrainTimeout: cfg.Delivery.DrainTimeout,
		InDoubtWait: cfg.Delivery.InDoubtWait,
		LeaseTTL:    cfg.Store.LeaseTTL, InstanceID: instanceID(cfg),
	})
	if err != nil {
		return errors.Join(err, shutdown())
	}
	d.engine = engine

	// Channels start in the background, each on its own: a hung or failing
	// adapter holds up neither the HTTP listener nor the other channels, and
	// items for a channel not yet running wait in the store. Channels stop
	// after the engine's workers, so that no send is cut short by its
	// adapter closing. (Accept, which the adapters call, works before Run.)
	for _, ch := range cfg.Channels {
		d.launch(cfg, ch)
	}
	stops = append(stops, d.channels.stopAll)
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- engine.Run(engineCtx) }()
	stops = append(stops, func(context.Context) error { stopEngine(); return <-engineDone })

	srv := server.New(server.Options{
		Listen:         cfg.Server.Listen,
		PublicURL:      cfg.Server.PublicURL,
		ReadTimeout:    cfg.Server.ReadTimeout,
		WriteTimeout:   cfg.Server.WriteTimeout,
		IdleTimeout:    cfg.Server.IdleTimeout,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		MaxInFlight:    cfg.Server.MaxInFlight,
		MaxConnections: cfg.Server.MaxConnections,
		Refused:        d.httpBusy.Inc,
		CertFile:       cfg.Server.TLS.CertFile,
		KeyFile:        cfg.Server.TLS.KeyFile,
		Logger:         log.Named("http"),
		Channels:       d.channels,
		LiveEngage:     engine,
		Metrics:        promhttp.HandlerFor(d.metrics, promhttp.HandlerOpts{}),
		Checks: map[string]server.Check{
			"store":      st.Ping,
			"liveengage": le.Ready,
			"channels":   d.channels.health,
			"claims":     engine.Claiming,
		},
	})
	if err := srv.Start(); err != nil {
		return errors.Join(fmt.Errorf("%s: %w", cfg.Position("server.listen"), err), shutdown())
	}
	stops = append(stops, srv.Shutdown)
	bi := buildinfo.Get()
	log.Info("leconnect is serving", "version", bi.Version, "commit", bi.ShortCommit(), "addr", srv.Addr(), "channels", len(cfg.Channels), "instance", instanceID(cfg), "store", cfg.Store.Backend)
	reload := opts.Reload
	if reload == nil {
		// Before READY: a SIGHUP that came first (systemd's ExecReload
		// right after start) would otherwise end the process.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		reload = hup
	}
	if opts.Ready != nil {
		opts.Ready <- srv.Addr()
	}
	d.notify("READY=1\nSTATUS=serving on " + srv.Addr())
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			d.notify("STOPPING=1")
			err := shutdown()
			if err != nil {
				log.Error("shutdown", "err", err)
			} else {
				log.Info("stopped")
			}
			return err
		case <-reload:
			d.notify("RELOADING=1")
			d.reload(ctx)
			d.notify("READY=1")
		}
	}
}

type daemon struct {
	opts     Options
	log      hclog.Logger
	reloader *config.Reloader
	channels *channelSet
	metrics  *prometheus.Registry
	engine   *conversation.Engine

	refusedDeliveries *prometheus.CounterVec
	httpBusy          prometheus.Counter
	hostOpts          pluginhost.Options // what every channel's adapter is launched with

	mu  sync.RWMutex // guards cfg, replaced on reload
	cfg *config.Config
}

// notify tells systemd the daemon's state (a no-op outside Type=notify);
// a failure is logged, never fatal.
func (d *daemon) notify(state string) {
	if err := notifySystemd(state); err != nil {
		d.log.Warn("systemd notification failed", "state", state, "err", err)
	}
}

// settings gives the engine a channel's current conversation settings.
func (d *daemon) settings(channel string) (conversation.ChannelSettings, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ch, ok := d.cfg.Channel(channel)
	if !ok {
		return conversation.ChannelSettings{}, false
	}
	return conversation.ChannelSettings{
		Routing:         liveperson.Routing{SkillID: ch.Routing.SkillID, CampaignID: ch.Routing.CampaignID, EngagementID: ch.Routing.EngagementID},
		EndKeyword:      ch.Conversation.EndKeyword,
		ClosingMessage:  ch.Conversation.ClosingMessage,
		CSATPrompt:      ch.Conversation.CSATPrompt,
		TransferMessage: ch.Conversation.TransferMessage,
		SDEs:            ch.SDEs.Map(),
		FCRPrompt:       ch.Conversation.FCRPrompt,
		FCRYes:          ch.Conversation.FCRYes,
		FCRNo:           ch.Conversation.FCRNo,
		SurveyRetry:     ch.Conversation.SurveyRetry,
		SurveyThanks:    ch.Conversation.SurveyThanks,
		SurveyTimeout:   ch.Conversation.SurveyTimeout,
	}, true
}

// launch starts supervising a channel's adapter and returns at once: a
// slow, hung or failing adapter holds up neither the daemon nor the other
// channels. How the start went is logged when it is known.
func (d *daemon) launch(cfg *config.Config, ch config.Channel) {
	c := pluginhost.Launch(ChannelSpec(cfg, ch), d.hostOpts,
		channelInbox{engine: d.engine, channel: ch.Name}, cfg.ChannelWebhookURL(ch.Name))
	d.channels.add(ch.Name, c, d.metrics)
	go func() {
		if err := c.WaitStarted(context.Background()); err != nil {
			var ce *pluginhost.ConfigError
			if errors.As(err, &ce) {
				var ps config.Problems
				for _, f := range ce.Fields {
					ps = append(ps, ch.Config.Problem(f.Field, f.Message))
				}
				err = ps
			}
			if c.Status().State == pluginhost.StateStopped {
				return
			}
			d.log.Error("channel not started; the daemon serves without it", "channel", ch.Name, "err", err)
			return
		}
		desc, _ := c.Description()
		d.log.Info("channel started", "channel", ch.Name, "adapter", desc.Name, "version", desc.Version)
	}()
}

// refused counts a Deliver call refused over one of a channel's limits.
func (d *daemon) refused(channel, limit string) {
	d.refusedDeliveries.WithLabelValues(channel, limit).Inc()
}

// reload applies a changed config: channels added, removed or changed are
// started, stopped or restarted; other sections need a restart.
func (d *daemon) reload(ctx context.Context) {
	old := d.cfg
	cfg, warnings, err := d.reloader.Reload()
	if err != nil {
		d.log.Error("config reload failed; keeping the running config", "err", err)
		return
	}
	for _, w := range warnings {
		d.log.Warn("config: " + w.Error())
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	d.log.SetLevel(cfg.Log.HCLogLevel())
	if !reflect.DeepEqual(old.Server, cfg.Server) || !reflect.DeepEqual(old.LiveEngage, cfg.LiveEngage) || old.Store != cfg.Store || old.Delivery != cfg.Delivery {
		d.log.Warn("server, liveengage, store and delivery settings change only on restart")
	}
	keep := map[string]bool{}
	for _, ch := range cfg.Channels {
		keep[ch.Name] = true
		prev, existed := old.Channel(ch.Name)
		if existed && reflect.DeepEqual(ChannelSpec(old, *prev), ChannelSpec(cfg, ch)) {
			continue
		}
		if existed {
			d.channels.remove(ctx, ch.Name, d.metrics)
		}
		d.launch(cfg, ch)
	}
	for _, ch := range old.Channels {
		if !keep[ch.Name] {
			d.channels.remove(ctx, ch.Name, d.metrics)
			d.log.Info("channel removed", "channel", ch.Name)
		}
	}
	d.log.Info("config reloaded", "channels", len(cfg.Channels))
}

// hostOptions launch adapters with the store's send journal and named
// leases, which every instance of a cluster shares.
func (d *daemon) hostOptions(cfg *config.Config, st store.Store, log hclog.Logger) pluginhost.Options {
	instance, holds := instanceID(cfg), new(atomic.Uint64)
	return pluginhost.Options{SelfExe: d.opts.SelfExe, Logger: d.log, Refused: d.refused,
		Journal: func(channel string) sdk.SendJournal { return store.ChannelJournal{Journal: st, Channel: channel} },
		InDoubt: func(channel, key, outcome string, begun time.Time) {
			d.engine.SendInDoubt(channel, key, outcome, begun)
		},
		Singletons: func(channel string) sdk.SingletonHolder {
			return channelSingletons{st: st, instance: instance, channel: channel, ttl: cfg.Store.LeaseTTL, holds: holds, log: log}
		},
	}
}

// instanceID is server.instance_id, or host/pid.
func instanceID(cfg *config.Config) string {
	if cfg.Server.InstanceID != "" {
		return cfg.Server.InstanceID
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}
