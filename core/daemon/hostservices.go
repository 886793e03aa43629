package daemon

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/core/pluginhost"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// channelSingletons holds one channel's named leases in the store for its
// adapter (sdk.SingletonHolder), so that work such as polling runs on one
// instance of a cluster at a time and moves within about a ttl when that
// instance dies.
type channelSingletons struct {
	st       store.Singletons
	instance string
	channel  string
	ttl      time.Duration
	holds    *atomic.Uint64 // numbers each hold: every hold is its own owner
	log      hclog.Logger
}

func (c channelSingletons) HoldSingleton(ctx context.Context, name string, held func(expires time.Time)) error {
	full := "channel/" + c.channel + "/" + name
	owner := fmt.Sprintf("%s#%d", c.instance, c.holds.Add(1))
	every := c.ttl / 3
	var lease store.SingletonLease
	for { // wait for the lease, trying every third of a ttl
		l, ok, err := c.st.AcquireSingleton(ctx, full, owner, c.ttl)
		if err == nil && ok {
			lease = l
			break
		}
		if err != nil && ctx.Err() == nil {
			c.log.Warn("taking a singleton lease failed; trying again", "name", full, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	c.log.Info("holding singleton lease", "name", full, "owner", owner, "token", lease.Token)
	held(lease.Expires)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := c.st.ReleaseSingleton(rctx, lease)
			cancel()
			if err != nil {
				c.log.Warn("releasing a singleton lease failed; it lapses at its expiry", "name", full, "err", err)
			}
			return ctx.Err()
		case <-tick.C:
		}
		l, ok, err := c.st.AcquireSingleton(ctx, full, owner, c.ttl)
		switch {
		case err != nil && time.Until(lease.Expires) > every:
			c.log.Warn("renewing a singleton lease failed; trying again", "name", full, "err", err)
			continue
		case err != nil:
			return fmt.Errorf("singleton %q: renewal failed until the lease was about to lapse: %w", full, err)
		case !ok || l.Token != lease.Token:
			return fmt.Errorf("singleton %q: lost to %s", full, l.Owner)
		}
		lease = l
		held(l.Expires)
	}
}

var (
	_ sdk.SendJournal        = store.ChannelJournal{}
	_ pluginhost.SendIntents = store.ChannelJournal{}
	_ sdk.SingletonHolder    = channelSingletons{}
)
