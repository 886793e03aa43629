package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/leconnect/leconnect/core/daemon"
	"github.com/leconnect/leconnect/emulator/liveengage"
	slackemu "github.com/leconnect/leconnect/emulator/slack"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// Options configure Run.
type Options struct {
	// Listen is the page's address; default 127.0.0.1:0 (any free port).
	Listen string
	// SelfExe is the leconnect binary, re-executed as `SelfExe adapter NAME`
	// for the built-in adapters. Required.
	SelfExe string
	// TempRoot is where the temporary folder (config, store, core log) is
	// made; default os.TempDir(). It is removed on return.
	TempRoot string
	// Stdout receives the one line with the URL; nil = discard.
	Stdout io.Writer
	// Ready, if set, receives the page URL once everything serves (one
	// send: buffer it or read it).
	Ready chan<- string
	// TrafficInterval is the pause between two scripted steps while the
	// traffic switch is on; default 250ms.
	TrafficInterval time.Duration
}

// Run starts the emulators, the core and the page, serves until ctx ends,
// then stops everything in reverse order and removes its temporary folder.
func Run(ctx context.Context, opts Options) (err error) {
	if opts.SelfExe == "" {
		return errors.New("demo: the leconnect executable is required for the built-in adapters")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.TrafficInterval <= 0 {
		opts.TrafficInterval = 250 * time.Millisecond
	}

	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()

	dir, err := os.MkdirTemp(opts.TempRoot, "leconnect-demo-")
	if err != nil {
		return fmt.Errorf("demo: temporary folder: %w", err)
	}
	stops = append(stops, func() { _ = os.RemoveAll(dir) })

	// The page listens first, so a bad --listen fails before anything starts.
	pageLn, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w", opts.Listen, err)
	}
	pageURL := "http://" + pageLn.Addr().String() + "/"
	stops = append(stops, func() { _ = pageLn.Close() }) // closed already once served; harmless

	// The core's port must be known before it starts: the LiveEngage
	// emulator posts webhooks to it and the adapter registers its webhook
	// with it. A port picked and released here is free in practice.
	corePort, err := freePort()
	if err != nil {
		return fmt.Errorf("demo: pick a port for the core: %w", err)
	}
	coreURL := fmt.Sprintf("http://127.0.0.1:%d", corePort)

	le, err := liveengage.New(liveengage.Options{
		AccountID: accountID, ClientID: clientID, ClientSecret: clientSecret,
		WebhookURL:    coreURL + "/webhooks/liveperson",
		RetentionTime: time.Hour, // TTL mode: a webhook the core misses is retried, in order
		TimeScale:     0.1,       // retries 0.2 s, 0.4 s ... rather than 2 s, 4 s ...
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	leURL, stopLE, err := serve(le.Handler())
	if err != nil {
		return fmt.Errorf("demo: liveengage emulator: %w", err)
	}
	stops = append(stops, func() { _ = le.Close(); stopLE() })

	tg, err := tgemu.New(tgemu.Options{Token: tgToken, BotName: "leconnect demo", BotUsername: "leconnect_demo_bot"})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	tgURL, stopTG, err := serve(tg.Handler())
	if err != nil {
		return fmt.Errorf("demo: telegram emulator: %w", err)
	}
	stops = append(stops, func() { tg.Close(); stopTG() })

	// Slack over the Events API: the emulator signs each event and POSTs it
	// to the core's webhook for the channel. No post rate limit here: the
	// adapter keeps to Slack's tiers itself.
	sl, err := slackemu.New(slackemu.Options{BotToken: slackBotToken, AppToken: slackAppToken, SigningSecret: slackSigningSecret,
		RequestURL: coreURL + "/channels/slack/webhook", TimeScale: 0.1, PostRate: -1})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	slURL, stopSL, err := serve(sl.Handler())
	if err != nil {
		return fmt.Errorf("demo: slack emulator: %w", err)
	}
	sl.SetPublicURL(slURL)
	stops = append(stops, func() { sl.Close(); stopSL() })

	// SMS through Twilio: the number's "a message comes in" webhook is the
	// core's, as set in Twilio's console.
	sms, err := smsemu.New(smsemu.Options{AccountSID: twilioAccountSID, AuthToken: twilioAuthToken, TimeScale: 0.1})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	smsURL, stopSMS, err := serve(sms.Handler())
	if err != nil {
		return fmt.Errorf("demo: sms emulator: %w", err)
	}
	sms.SetBaseURL(smsURL)
	stops = append(stops, func() { sms.Close(); stopSMS() })
	if err := sms.AddNumber(smsemu.Number{Provider: smsemu.Twilio, Number: demoSMSNumber, WebhookURL: coreURL + "/channels/sms/webhook"}); err != nil {
		return fmt.Errorf("demo: sms number: %w", err)
	}

	cfgPath, err := writeConfig(dir, configParams{
		Listen: fmt.Sprintf("127.0.0.1:%d", corePort), PublicURL: coreURL, DomainAPI: leURL,
		Store: filepath.Join(dir, "leconnect.db"), TelegramURL: tgURL, SlackURL: slURL, SMSURL: smsURL, SMSNumber: demoSMSNumber, CSATPrompt: csatPrompt,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	unsetEnv, err := setSecretEnv()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	stops = append(stops, unsetEnv)

	// The core logs to a file in the temporary folder: the terminal shows
	// only the URL. The file goes with the folder.
	logFile, err := os.Create(filepath.Join(dir, "leconnect.log"))
	if err != nil {
		return fmt.Errorf("demo: core log: %w", err)
	}
	stops = append(stops, func() { _ = logFile.Close() })

	coreCtx, stopCore := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	coreDone := make(chan error, 1)
	go func() {
		coreDone <- daemon.Run(coreCtx, daemon.Options{
			ConfigPath: cfgPath, SelfExe: opts.SelfExe, LogOutput: logFile, Ready: ready,
			Reload: make(chan os.Signal), // the demo's config never changes
		})
	}()
	select {
	case <-ready:
	case err := <-coreDone:
		stopCore()
		return fmt.Errorf("demo: the core did not start (log: %s): %w", tail(logFile.Name()), err)
	case <-ctx.Done():
		stopCore()
		<-coreDone
		return nil
	}
	var coreErr error
	stops = append(stops, func() {
		stopCore()
		coreErr = <-coreDone
	})

	phones := []Phone{newTelegramPhone(tg), newSlackPhone(sl), newSMSPhone(sms)}
	for _, p := range phones {
		if err := p.Start(); err != nil {
			return fmt.Errorf("demo: %s phone: %w", p.Info().Channel, err)
		}
	}
	tr := newTraffic(le, trafficChannels{tg: tg, sl: sl, sms: sms}, opts.TrafficInterval)
	trafficCtx, stopTraffic := context.WithCancel(context.Background())
	trafficDone := make(chan struct{})
	go func() { defer close(trafficDone); tr.run(trafficCtx) }()
	stops = append(stops, func() { stopTraffic(); <-trafficDone })

	srv := newServer(serverDeps{le: le, tg: tg, phones: phones, traffic: tr, coreURL: coreURL})
	// Requests derive from pageCtx: cancelling it ends every event stream,
	// the emulator's included, which Shutdown would otherwise wait for.
	pageCtx, endPage := context.WithCancel(context.Background())
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return pageCtx }}
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpSrv.Serve(pageLn) }()
	stops = append(stops, func() {
		endPage()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(sctx)
		<-serveDone
	})

	fmt.Fprintf(opts.Stdout, "leconnect demo is running: open %s  (Ctrl-C stops it)\n", pageURL)
	if opts.Ready != nil {
		opts.Ready <- pageURL
	}
	select {
	case <-ctx.Done():
	case err := <-serveDone:
		serveDone <- err
		return fmt.Errorf("demo: serve the page: %w", err)
	}
	// Stop in reverse order now, so the core's shutdown error is reported.
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	stops = nil
	if coreErr != nil {
		return fmt.Errorf("demo: core shutdown: %w", coreErr)
	}
	return nil
}

// serve runs h on a loopback port until the returned stop is called.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of the core's log, for a start failure.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
