package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// usageError is a mistake in how the command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// silentError means the subcommand already reported the problem (exit status 1).
var errReported = errors.New("problems reported")

const usage = `leconnect connects messaging channels to LivePerson LiveEngage.

Usage:
  leconnect run      --config FILE   serve: LiveEngage webhooks, channel adapters, health and metrics
  leconnect validate --config FILE   check a config file offline (adapters check their own blocks)
  leconnect manifest --config FILE   print the App Installation Manifest to register with LivePerson
  leconnect dlq list|replay|drop     inspect and retry messages that could not be delivered
  leconnect migrate  --config FILE   create or migrate the store's schema, then exit (run does it too)
  leconnect emulator NAME [flags]    run one platform's emulator: liveengage, telegram, slack or sms (see -h)
  leconnect demo [--listen ADDR]     the whole system on this machine, shown in a browser
  leconnect bench [flags]            throughput and latency of the core beside a bare relay (see -h)
  leconnect adapter NAME             run a built-in adapter (the core starts these itself)
  leconnect healthcheck [--url URL]  exit 0 when the endpoint (default http://127.0.0.1:8080/healthz) answers 200
  leconnect version                  print the version, commit, build date and Go version
`

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"run":         runCommand,
	"validate":    validateCommand,
	"manifest":    manifestCommand,
	"emulator":    emulatorCommand,
	"demo":        demoCommand,
	"adapter":     adapterCommand,
	"dlq":         dlqCommand,
	"migrate":     migrateCommand,
	"version":     versionCommand,
	"healthcheck": healthcheckCommand,
	"bench":       benchCommand,
}

// Main runs the command line and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "leconnect: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd(ctx, args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "leconnect %s: %v\n", args[0], err)
		return 2
	case errors.Is(err, errReported):
		return 1
	}
	fmt.Fprintf(stderr, "leconnect %s: %v\n", args[0], err)
	return 1
}

// configFlag parses the common --config FILE flag.
func configFlag(name string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "connector.yaml", "the config `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	return *path, nil
}

// parseFlags parses a command's flags, which take every argument: -h is
// flag.ErrHelp, anything else wrong a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	return nil
}
