package liveengage

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/emulator/internal/serve"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// RunCommand implements `leconnect emulator`: it parses args, serves the
// emulator until ctx is cancelled, then shuts down gracefully.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen        = fs.String("listen", "127.0.0.1:8089", "address to listen on (host:port)")
		account       = fs.String("account", "", "account id (required)")
		clientID      = fs.String("client-id", "", "app installation client_id (required)")
		clientSecret  = fs.String("client-secret", "", "app installation client_secret; also the webhook signing key (required)")
		webhook       = fs.String("webhook", "", "URL receiving all five notification types (empty = no webhooks)")
		maxRetries    = fs.Int("max-retries", 0, "max_retries of every webhook, 0-5 (count mode, 30 s apart)")
		retention     = fs.Duration("retention-time", 0, "retry.retention_time; > 0 selects TTL retry mode (2s-72h)")
		webhookTO     = fs.Duration("webhook-timeout", 5*time.Second, "timeout of one webhook delivery")
		workers       = fs.Int("webhook-workers", 64, "parallel webhook delivery lanes; one conversation always uses one lane")
		tokenTTL      = fs.Duration("token-ttl", time.Hour, "AppJWT lifetime")
		fileTTL       = fs.Duration("file-url-ttl", time.Minute, "lifetime of temporary file URLs")
		timeScale     = fs.Float64("time-scale", 1, "multiplier for every webhook retry/backoff interval")
		postSurvey    = fs.Bool("post-survey", false, "consumer DialogChange CLOSE of the MAIN dialog opens a POST_SURVEY dialog")
		sigAlg        = fs.String("signature-algorithm", "sha1", "webhook signature algorithm: sha1 or sha256")
		sigEnc        = fs.String("signature-encoding", "base64", "webhook signature encoding: base64 or hex")
		logLevel      = fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
		appInstall    = fs.String("app-install", "", "App Install Manifest or installed app JSON file: webhooks, max_retries, headers, retention_time, client_id/secret")
		typeHooks     listFlag
		customHeaders listFlag
	)
	fs.Var(&typeHooks, "webhook-type", "TYPE=URL: endpoint for one notification type (repeatable), e.g. cqm.ExConversationChangeNotification=http://...")
	fs.Var(&customHeaders, "webhook-header", "NAME=VALUE: custom header sent with every webhook (repeatable)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("emulator: unexpected arguments %q", fs.Args())
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "emulator", Output: stderr, Level: hclog.LevelFromString(*logLevel)})
	opts := Options{
		AccountID: *account, ClientID: *clientID, ClientSecret: *clientSecret,
		WebhookURL: *webhook, MaxRetries: *maxRetries, RetentionTime: *retention,
		WebhookTimeout: *webhookTO, WebhookWorkers: *workers, TokenTTL: *tokenTTL, FileURLTTL: *fileTTL, TimeScale: *timeScale,
		PostSurvey: *postSurvey, SignatureAlgorithm: *sigAlg, SignatureEncoding: *sigEnc, Logger: log,
	}
	if *appInstall != "" {
		data, err := os.ReadFile(*appInstall)
		if err != nil {
			return fmt.Errorf("emulator: --app-install: %w", err)
		}
		if err := opts.ApplyManifest(data); err != nil {
			return fmt.Errorf("emulator: --app-install %s: %w", *appInstall, err)
		}
	}
	for _, h := range customHeaders {
		name, value, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			return fmt.Errorf("emulator: --webhook-header %q: want NAME=VALUE", h)
		}
		opts.WebhookHeaders = append(opts.WebhookHeaders, Header{Name: name, Value: value})
	}
	for _, t := range typeHooks {
		typ, u, ok := strings.Cut(t, "=")
		if !ok || u == "" {
			return fmt.Errorf("emulator: --webhook-type %q: want TYPE=URL", t)
		}
		if opts.Webhooks == nil {
			opts.Webhooks = map[string]WebhookEndpoint{}
		}
		opts.Webhooks[typ] = WebhookEndpoint{URL: u}
	}
	emu, err := New(opts)
	if err != nil {
		return err
	}
	defer emu.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("emulator: listen on %s: %w", *listen, err)
	}
	_, _ = fmt.Fprintf(stdout, "LiveEngage emulator listening on http://%s (account %s; agent workspace /emulator/, control API /emulator/api/)\n", ln.Addr(), *account)
	log.Info("serving", "addr", ln.Addr().String(), "account", *account, "webhooks", opts.WebhookURL != "" || len(opts.Webhooks) > 0)
	return serve.Run(ctx, "emulator", ln, emu.Handler(), emu.hub.close /* ends SSE streams */)
}
