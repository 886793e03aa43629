package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/leconnect/leconnect/core/builtin"
	"github.com/leconnect/leconnect/core/config"
	"github.com/leconnect/leconnect/core/daemon"
	"github.com/leconnect/leconnect/core/pluginhost"
)

// validateCommand checks a config file without serving: the file itself,
// then each channel's block by launching its adapter and calling Configure.
// Nothing contacts LiveEngage or a platform. Variables that are not set are
// warnings here (secrets are often absent where configs are checked), and
// the adapters' checks of those values are skipped.
func validateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("validate", args, stderr)
	if err != nil {
		return err
	}
	cfg, warnings, err := config.Load(path,
		config.WithBuiltinAdapters(builtin.Names()...), config.WithPartialResult(), config.WithUnsetVariablesAsWarnings())
	var problems config.Problems
	if err != nil && !errors.As(err, &problems) {
		return err
	}
	if cfg != nil {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable for built-in adapters: %w", err)
		}
		for i, ch := range cfg.Channels {
			if problems.Under(fmt.Sprintf("channels[%d]", i)) {
				continue // the adapter cannot be run with a broken channel entry
			}
			desc, err := pluginhost.Check(ctx, daemon.ChannelSpec(cfg, ch), pluginhost.Options{SelfExe: self})
			var ce *pluginhost.ConfigError
			switch {
			case errors.As(err, &ce):
				skipped := 0
				for _, f := range ce.Fields {
					p := ch.Config.Problem(f.Field, f.Message)
					if cfg.FromUnsetVariable(p.Path) {
						skipped++
						continue
					}
					problems = append(problems, p)
				}
				if skipped == len(ce.Fields) {
					fmt.Fprintf(stdout, "channel %s: adapter %s accepts its config, but for %d value(s) from unset variables\n", ch.Name, ch.Adapter, skipped)
				}
			case err != nil:
				key := fmt.Sprintf("channels[%d].adapter", i)
				if ch.Path != "" {
					key = fmt.Sprintf("channels[%d].path", i)
				}
				problems = append(problems, cfg.Problem(key, err.Error()))
			default:
				fmt.Fprintf(stdout, "channel %s: adapter %s %s accepts its config\n", ch.Name, desc.Name, desc.Version)
			}
		}
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %v\n", w)
	}
	if len(problems) > 0 {
		problems.Sort()
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(problems))
		return errReported
	}
	fmt.Fprintf(stdout, "%s: valid\n", path)
	return nil
}
