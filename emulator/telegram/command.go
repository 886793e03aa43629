package telegram

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/emulator/internal/serve"
)

// userFlag collects repeatable -user ID[:FirstName[:username]] flags.
type userFlag []User

func (u *userFlag) String() string { return fmt.Sprint(len(*u), " users") }

func (u *userFlag) Set(v string) error {
	parts := strings.SplitN(v, ":", 3)
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("want ID[:FirstName[:username]] with a positive numeric ID, got %q", v)
	}
	user := User{ID: id}
	if len(parts) > 1 {
		user.FirstName = parts[1]
	}
	if len(parts) > 2 {
		user.Username = parts[2]
	}
	*u = append(*u, user)
	return nil
}

// RunCommand serves the emulator standalone (for the demo, or a future
// `leconnect emulator telegram`) until ctx is cancelled.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("telegram-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen      = fs.String("listen", "127.0.0.1:8090", "address to listen on (host:port)")
		token       = fs.String("token", "123456:TEST-token", "bot token accepted in /bot<token>/ paths")
		timeScale   = fs.Float64("time-scale", 1, "multiplier for webhook retry delays and the setWebhook 1 s window")
		chatRate    = fs.Float64("chat-rate", 1, "messages per second per chat (negative: no limit)")
		chatBurst   = fs.Int("chat-burst", 3, "burst of messages per chat")
		globalRate  = fs.Float64("global-rate", 30, "messages per second for the bot (negative: no limit)")
		globalBurst = fs.Int("global-burst", 30, "burst of messages for the bot")
		webhookTO   = fs.Duration("webhook-timeout", 10*time.Second, "timeout of one webhook delivery")
		logLevel    = fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
		users       userFlag
	)
	fs.Var(&users, "user", "ID[:FirstName[:username]]: a Telegram user who has started the bot (repeatable)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("telegram emulator: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("telegram emulator: unexpected arguments %q", fs.Args())
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "telegram-emulator", Output: stderr, Level: hclog.LevelFromString(*logLevel)})
	e, err := New(Options{Token: *token, TimeScale: *timeScale, ChatRate: *chatRate, ChatBurst: *chatBurst,
		GlobalRate: *globalRate, GlobalBurst: *globalBurst, WebhookTimeout: *webhookTO, Logger: log})
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := e.AddUser(u); err != nil {
			e.Close()
			return fmt.Errorf("telegram emulator: -user %d: %w", u.ID, err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		e.Close()
		return fmt.Errorf("telegram emulator: listen on %s: %w", *listen, err)
	}
	_, _ = fmt.Fprintf(stdout, "Telegram emulator listening on http://%s (control API /fake/telegram/api/)\n", ln.Addr())
	return serve.Run(ctx, "telegram emulator", ln, e.Handler(), e.Close /* ends long polls */)
}
