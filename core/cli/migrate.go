package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/leconnect/leconnect/core/builtin"
	"github.com/leconnect/leconnect/core/config"
	"github.com/leconnect/leconnect/core/daemon"
)

// migrateCommand creates or migrates the configured store and exits, for
// operators who run schema changes as a step of their own (the daemon
// migrates at start in any case, under the same lock).
func migrateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("migrate", args, stderr)
	if err != nil {
		return err
	}
	cfg, _, err := config.Load(path, config.WithBuiltinAdapters(builtin.Names()...))
	if err != nil {
		return err
	}
	st, err := daemon.OpenStore(ctx, cfg, daemon.StoreOptions{NoSweep: true})
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the %s store is migrated and up to date\n", cfg.Store.Backend)
	return nil
}
