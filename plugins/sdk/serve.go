package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
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
// exits with status 1 when a's description does not match its methods, and
// exits by itself if the core that launched it dies.
func Serve(a Adapter) {
	if err := CheckDescription(a); err != nil {
		fmt.Fprintf(os.Stderr, "leconnect adapter: %v\n", err)
		os.Exit(1)
	}
	go exitWithParent(os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(a),
		GRPCServer:       grpcServer,
		Logger:           processLogger(),
	})
	os.Exit(0)
}

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
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("adapter %q: %w", d.Name, err)
	}
	return nil
}

// exitWithParent ends the process once its parent is gone (the process was
// re-parented), so a core killed with SIGKILL leaves no orphan adapters even
// where the kernel's parent-death signal is not available.
func exitWithParent(parent int, every time.Duration) {
	for range time.Tick(every) {
		if os.Getppid() != parent {
			processLogger().Warn("leconnect core is gone; exiting")
			os.Exit(3)
		}
	}
}
