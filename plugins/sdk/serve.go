package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// EnvLogLevel names the environment variable through which the core tells an
// adapter process its log level (trace, debug, info, warn, error).
const EnvLogLevel = "LECONNECT_LOG_LEVEL"

var (
	loggerOnce sync.Once
	logger     hclog.Logger
)

// processLogger is the adapter process's logger: hclog JSON on stderr, which
// go-plugin parses and the core re-logs tagged with the channel.
func processLogger() hclog.Logger {
	loggerOnce.Do(func() {
		logger = hclog.New(&hclog.LoggerOptions{
			Level:      hclog.LevelFromString(os.Getenv(EnvLogLevel)),
			Output:     os.Stderr,
			JSONFormat: true,
		})
	})
	return logger
}

// Serve runs a as an adapter process: it answers the core's handshake and
// serves until the core stops it. Call it from main; it does not return. It
// exits with status 1 when a's description does not match its methods.
//
// If the core dies (SIGTERM from the kernel's parent-death signal, or the
// parent process changes), Serve stops taking Sends, lets those in flight
// finish and reach the send journal, and exits: a Send the platform accepted
// is then answered from the journal when the restarted core repeats it.
func Serve(a Adapter) {
	if err := CheckDescription(a); err != nil {
		fmt.Fprintf(os.Stderr, "leconnect adapter: %v\n", err)
		os.Exit(1)
	}
	// Our stderr is a pipe to the core. When the core dies, a write to it
	// would kill this process with SIGPIPE before in-flight sends reach the
	// journal; ignored, the write fails and the drain goes on.
	signal.Ignore(syscall.SIGPIPE)
	p := &grpcPlugin{impl: a}
	go exitWhenOrphaned(p, os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSetsFor(p),
		GRPCServer:       grpcServer,
		Logger:           processLogger(),
	})
	p.drain(drainTimeout)
	os.Exit(0)
}

// drainTimeout bounds how long a dying adapter waits for in-flight Sends.
const drainTimeout = 10 * time.Second

// CheckDescription reports capabilities that a declares but does not implement.
func CheckDescription(a Adapter) error {
	d := a.Describe()
	var problems []error
	if d.Name == "" {
		problems = append(problems, errors.New("Describe returns an empty name"))
	}
	if _, ok := a.(TypingSetter); d.Capabilities.Typing && !ok {
		problems = append(problems, errors.New("declares Typing but does not implement sdk.TypingSetter"))
	}
	if _, ok := a.(ReadMarker); d.Capabilities.ReadReceipts && !ok {
		problems = append(problems, errors.New("declares ReadReceipts but does not implement sdk.ReadMarker"))
	}
	if _, ok := a.(http.Handler); d.Capabilities.Webhooks && !ok {
		problems = append(problems, errors.New("declares Webhooks but does not implement net/http.Handler"))
	}
	if _, ok := a.(SendResolver); d.Capabilities.ResolvesSends && !ok {
		problems = append(problems, errors.New("declares ResolvesSends but does not implement sdk.SendResolver"))
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("adapter %q: %w", d.Name, err)
	}
	return nil
}

// exitWhenOrphaned drains and exits once the core is gone: on SIGTERM (the
// parent-death signal the core sets on Linux) or when the process has been
// re-parented (elsewhere).
func exitWhenOrphaned(p *grpcPlugin, parent int, every time.Duration) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-term:
		case <-tick.C:
			if os.Getppid() == parent {
				continue
			}
		}
		processLogger().Warn("leconnect core is gone; finishing in-flight sends and exiting")
		p.drain(drainTimeout)
		os.Exit(3)
	}
}
