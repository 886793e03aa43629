package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/core/config"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/core/store/boltstore"
	"github.com/leconnect/leconnect/core/store/pgstore"
)

// StoreOptions tune OpenStore for a caller that is not the daemon.
type StoreOptions struct {
	// NoSweep: no background purge (a command that only looks).
	NoSweep bool
	Logger  hclog.Logger
}

// OpenStore opens the backend cfg.Store names; errors name the setting.
func OpenStore(ctx context.Context, cfg *config.Config, opts StoreOptions) (store.Store, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	var sweep time.Duration // the stores' default
	if opts.NoSweep {
		sweep = -1
	}
	switch cfg.Store.Backend {
	case config.BackendPostgres:
		pg := cfg.Store.Postgres
		st, err := pgstore.Open(ctx, pgstore.Options{DSN: pg.DSN, MaxConns: int32(pg.MaxConns), StatementTimeout: pg.StatementTimeout,
			PollInterval: pg.PollInterval, SweepInterval: sweep, Logger: opts.Logger, Owner: instanceID(cfg)})
		if err != nil {
			return nil, fmt.Errorf("%s: store.postgres.dsn: %w", cfg.Position("store.postgres.dsn"), err)
		}
		return st, nil
	default:
		st, err := boltstore.Open(cfg.Store.Path, boltstore.Options{SweepInterval: sweep, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("%s: store.path: %w", cfg.Position("store.path"), err)
		}
		return st, nil
	}
}
