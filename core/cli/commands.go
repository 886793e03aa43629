package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/leconnect/leconnect/core/buildinfo"
	"github.com/leconnect/leconnect/core/builtin"
	"github.com/leconnect/leconnect/core/daemon"
	"github.com/leconnect/leconnect/emulator/liveengage"
	"github.com/leconnect/leconnect/emulator/slack"
	"github.com/leconnect/leconnect/emulator/sms"
	"github.com/leconnect/leconnect/emulator/telegram"
)

func versionCommand(_ context.Context, _ []string, stdout, _ io.Writer) error {
	_, err := io.WriteString(stdout, buildinfo.Get().String())
	return err
}

func runCommand(ctx context.Context, args []string, _, stderr io.Writer) error {
	path, err := configFlag("run", args, stderr)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for built-in adapters: %w", err)
	}
	collectLessOften()
	return daemon.Run(ctx, daemon.Options{ConfigPath: path, SelfExe: self, LogOutput: stderr})
}

func adapterCommand(_ context.Context, args []string, _, _ io.Writer) error {
	if len(args) != 1 {
		return usageError{"expected exactly one adapter name"}
	}
	collectLessOften()
	return builtin.Serve(args[0])
}

// gcPercent is the daemon's and the built-in adapters' GOGC unless the
// environment sets one. Their live heaps are small (a few MiB at rest), so
// at Go's default of 100 a flood runs a collection every few MiB
// allocated; 200 halves that for a few MiB more (see docs/operations.md).
const gcPercent = 200

func collectLessOften() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// emulators are the platforms `leconnect emulator NAME` can stand in for.
var emulators = map[string]command{
	"liveengage": liveengage.RunCommand,
	"telegram":   telegram.RunCommand,
	"slack":      slack.RunCommand,
	"sms":        sms.RunCommand,
}

const emulatorUsage = `Usage: leconnect emulator liveengage|telegram|slack|sms [flags]

Runs one platform's emulator on loopback until interrupted, printing where
its API and its control API listen. See "leconnect emulator NAME -h" for
each one's flags, and docs/emulator.md for a local walkthrough.
`

func emulatorCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			_, _ = io.WriteString(stderr, emulatorUsage)
			return flag.ErrHelp
		}
		// Before there were four: flags alone run LiveEngage's, as they did.
		return liveengage.RunCommand(ctx, args, stdout, stderr)
	}
	run, ok := emulators[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("unknown emulator %q; expected liveengage, telegram, slack or sms", args[0])}
	}
	return run(ctx, args[1:], stdout, stderr)
}
