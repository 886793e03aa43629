package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/leconnect/leconnect/core/buildinfo"
	"github.com/leconnect/leconnect/core/builtin"
	"github.com/leconnect/leconnect/core/daemon"
	"github.com/leconnect/leconnect/emulator/liveengage"
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

func emulatorCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return liveengage.RunCommand(ctx, args, stdout, stderr)
}
