package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leconnect/leconnect/core/conversation"
	"github.com/leconnect/leconnect/core/pluginhost"
	"github.com/leconnect/leconnect/core/server"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// channelInbox is Host.Deliver for one channel.
type channelInbox struct {
	engine  *conversation.Engine
	channel string
}

func (c channelInbox) Deliver(ctx context.Context, events []sdk.Event) error {
	return c.engine.Accept(ctx, c.channel, events)
}

// channelSet holds the supervised channels, ready or not; reload changes it.
type channelSet struct {
	mu      sync.RWMutex
	byName  map[string]*pluginhost.Channel
	order   []string // start order, stopped in reverse
	metrics map[string]prometheus.Collector
}

// Channel finds a channel for its platform webhooks; one that is not ready
// answers them with a not-connected error, which the server turns into 503.
func (s *channelSet) Channel(name string) (server.Channel, bool) {
	c, ok := s.get(name)
	return c, ok
}

// Adapter finds a channel whose adapter has described itself; until then
// the engine keeps the channel's items queued and retries.
func (s *channelSet) Adapter(name string) (conversation.Adapter, bool) {
	c, ok := s.get(name)
	if !ok {
		return nil, false
	}
	desc, ok := c.Description()
	if !ok {
		return nil, false
	}
	return describedChannel{c, desc}, true
}

// describedChannel is a channel with the description the engine renders for.
type describedChannel struct {
	*pluginhost.Channel
	desc sdk.Description
}

func (c describedChannel) Description() sdk.Description { return c.desc }

func (s *channelSet) get(name string) (*pluginhost.Channel, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.byName[name]
	return c, ok
}

func (s *channelSet) add(name string, c *pluginhost.Channel, reg prometheus.Registerer) {
	restarts := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "leconnect_adapter_restarts_total", Help: "Adapter processes restarted after a crash, a timeout or unresponsiveness.",
		ConstLabels: prometheus.Labels{"channel": name},
	}, func() float64 { return float64(c.Status().Restarts) })
	_ = reg.Register(restarts)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics == nil {
		s.metrics = map[string]prometheus.Collector{}
	}
	s.byName[name] = c
	s.order = append(s.order, name)
	s.metrics[name] = restarts
}

func (s *channelSet) remove(ctx context.Context, name string, reg prometheus.Registerer) {
	s.mu.Lock()
	c := s.byName[name]
	delete(s.byName, name)
	for i, n := range s.order {
		if n == name {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	if m := s.metrics[name]; m != nil {
		reg.Unregister(m)
		delete(s.metrics, name)
	}
	s.mu.Unlock()
	if c != nil {
		_ = c.Stop(ctx)
	}
}

// stopAll stops every channel at once: each is its own process, and one
// after another they took a second each of the shutdown budget.
func (s *channelSet) stopAll(ctx context.Context) error {
	s.mu.RLock()
	var chans []*pluginhost.Channel
	for _, name := range s.order {
		if c := s.byName[name]; c != nil {
			chans = append(chans, c)
		}
	}
	s.mu.RUnlock()
	errs := make([]error, len(chans))
	var wg sync.WaitGroup
	for i, c := range chans {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.Stop(ctx) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// health is the channels' readiness: nil when every channel runs and says
// it is healthy, else one line per channel that is not, naming why
// ("tg: configuring for 12s", "sms: failed: adapter crashed 6 times ...").
func (s *channelSet) health(ctx context.Context) error {
	s.mu.RLock()
	chans := make([]*pluginhost.Channel, 0, len(s.byName))
	for _, c := range s.byName {
		chans = append(chans, c)
	}
	s.mu.RUnlock()
	sort.Slice(chans, func(i, j int) bool { return chans[i].Name() < chans[j].Name() })
	errs := make([]error, len(chans))
	var wg sync.WaitGroup
	for i, c := range chans {
		if err := c.Status().Ready(); err != nil {
			errs[i] = fmt.Errorf("%s: %w", c.Name(), err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Health(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: unhealthy: %w", c.Name(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
