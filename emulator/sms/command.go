package sms

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/emulator/internal/serve"
)

// numberFlag collects repeatable -number provider:+E164:webhookURL flags.
type numberFlag []Number

func (n *numberFlag) String() string { return fmt.Sprint(len(*n), " numbers") }

func (n *numberFlag) Set(v string) error {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) != 3 || (parts[0] != Twilio && parts[0] != Vonage) {
		return fmt.Errorf("want twilio|vonage:+E164:webhookURL, got %q", v)
	}
	*n = append(*n, Number{Provider: parts[0], Number: parts[1], WebhookURL: parts[2]})
	return nil
}

// RunCommand serves the emulator standalone (for the demo, or a future
// `leconnect emulator sms`) until ctx is cancelled.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sms-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen    = fs.String("listen", "127.0.0.1:8091", "address to listen on (host:port)")
		sid       = fs.String("account-sid", "", "Twilio Account SID (default AC + 32 zeros)")
		token     = fs.String("auth-token", "test-auth-token", "Twilio Auth Token; signs webhooks")
		key       = fs.String("vonage-api-key", "abcd1234", "Vonage API key")
		secret    = fs.String("vonage-api-secret", "abcdef0123456789", "Vonage API secret")
		format    = fs.String("vonage-format", "json", "Vonage webhook format: json, form or get")
		sigSecret = fs.String("vonage-signature-secret", "", "sign Vonage webhooks with this secret (timestamp and sig parameters)")
		sigMethod = fs.String("vonage-signature-method", "md5hash", "Vonage signature method: md5hash, md5, sha1, sha256 or sha512")
		shuffle   = fs.Bool("shuffle", false, "send status callbacks and message parts in random order")
		timeScale = fs.Float64("time-scale", 1, "multiplier for callback delays and webhook retries")
		logLevel  = fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
		numbers   numberFlag
	)
	fs.Var(&numbers, "number", "provider:+E164:webhookURL: a service number and its inbound webhook (repeatable)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("sms emulator: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sms emulator: unexpected arguments %q", fs.Args())
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "sms-emulator", Output: stderr, Level: hclog.LevelFromString(*logLevel)})
	e, err := New(Options{AccountSID: *sid, AuthToken: *token, VonageAPIKey: *key, VonageAPISecret: *secret,
		VonageFormat: *format, VonageSignatureSecret: *sigSecret, VonageSignatureMethod: *sigMethod, Shuffle: *shuffle, TimeScale: *timeScale, Logger: log})
	if err != nil {
		return err
	}
	for _, n := range numbers {
		if err := e.AddNumber(n); err != nil {
			e.Close()
			return fmt.Errorf("sms emulator: -number %s: %w", n.Number, err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		e.Close()
		return fmt.Errorf("sms emulator: listen on %s: %w", *listen, err)
	}
	e.SetBaseURL("http://" + ln.Addr().String())
	_, _ = fmt.Fprintf(stdout, "SMS emulator (Twilio, Vonage) listening on http://%s (control API %s)\n", ln.Addr(), controlPrefix)
	return serve.Run(ctx, "sms emulator", ln, e.Handler(), e.Close)
}
