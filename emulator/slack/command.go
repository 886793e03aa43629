package slack

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/emulator/internal/serve"
)

// RunCommand serves the emulator standalone (for the demo, or a future
// `leconnect emulator slack`) until ctx is cancelled.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slack-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", "127.0.0.1:8092", "address to listen on (host:port)")
		botToken   = fs.String("bot-token", "xoxb-test-bot-token", "bot token the Web API accepts")
		appToken   = fs.String("app-token", "xapp-1-test-app-token", "app-level token apps.connections.open accepts")
		secret     = fs.String("signing-secret", "test-signing-secret", "secret that signs event and interactivity requests")
		socketMode = fs.Bool("socket-mode", false, "deliver events over Socket Mode instead of the request URL")
		requestURL = fs.String("request-url", "", "Events API request URL (events mode)")
		timeScale  = fs.Float64("time-scale", 1, "multiplier for retry delays")
		postRate   = fs.Float64("post-rate", 1, "chat.postMessage per second per channel (negative: no limit)")
		ackTimeout = fs.Duration("ack-timeout", 3*time.Second, "how long a delivery may take before Slack retries it")
		logLevel   = fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
		users      = fs.String("users", "", "comma-separated ID[:name] of workspace members, e.g. U0ANN:ann")
	)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("slack emulator: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("slack emulator: unexpected arguments %q", fs.Args())
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "slack-emulator", Output: stderr, Level: hclog.LevelFromString(*logLevel)})
	e, err := New(Options{BotToken: *botToken, AppToken: *appToken, SigningSecret: *secret, SocketMode: *socketMode,
		RequestURL: *requestURL, TimeScale: *timeScale, PostRate: *postRate, AckTimeout: *ackTimeout, Logger: log})
	if err != nil {
		return err
	}
	for _, u := range strings.Split(*users, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		id, name, _ := strings.Cut(u, ":")
		if err := e.AddUser(User{ID: id, Name: name}); err != nil {
			e.Close()
			return fmt.Errorf("slack emulator: -users %s: %w", u, err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		e.Close()
		return fmt.Errorf("slack emulator: listen on %s: %w", *listen, err)
	}
	e.SetPublicURL("http://" + ln.Addr().String())
	_, _ = fmt.Fprintf(stdout, "Slack emulator listening on http://%s (control API /fake/slack/api/)\n", ln.Addr())
	return serve.Run(ctx, "slack emulator", ln, e.Handler(), e.Close /* closes WebSockets */)
}
