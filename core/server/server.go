package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Channel is what the server needs of a running channel.
type Channel interface {
	HandleWebhook(ctx context.Context, r *http.Request, body []byte, publicURL string) (sdk.WebhookResponse, error)
}

// Channels finds running channels by name; the set changes on reload.
type Channels interface {
	Channel(name string) (Channel, bool)
}

// Check is one readiness check; nil means ready.
type Check func(ctx context.Context) error

// Options configure the server.
type Options struct {
	Listen       string
	PublicURL    string // what platforms call; forwarded to adapters for signature checks
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	MaxBodyBytes int64
	// MaxInFlight caps the webhook requests handled at once; past it a
	// webhook is answered 503 with Retry-After (platforms retry), so a
	// flood or an abusive client cannot pile up goroutines and memory.
	// /healthz, /readyz and /metrics are not counted. 0 means 1024.
	MaxInFlight int
	// MaxConnections caps the connections open at once; past it a new
	// connection is answered 503 with Retry-After and closed, so a client
	// holding connections cannot exhaust file descriptors. 0 means 4096.
	MaxConnections int
	// Refused counts the requests answered 503 past MaxInFlight or
	// MaxConnections; nil: none.
	Refused  func()
	CertFile string // TLS when both are set
	KeyFile  string
	Logger   hclog.Logger
	Channels Channels
	// LiveEngage handles POST /webhooks/liveperson; nil answers 503.
	LiveEngage http.Handler
	// Metrics handles GET /metrics; nil answers 404.
	Metrics http.Handler
	// Checks are run by /readyz, in parallel, each bounded by CheckTimeout.
	Checks       map[string]Check
	CheckTimeout time.Duration
}

// webhookRetryAfter is what a platform is told to wait when the channel it
// calls is not ready.
const webhookRetryAfter = 5 * time.Second

// busyRetryAfter is what a client refused past MaxInFlight is told to wait.
const busyRetryAfter = time.Second

// Server is the daemon's HTTP listener.
type Server struct {
	opts     Options
	http     *http.Server
	ln       net.Listener
	done     chan error
	inFlight chan struct{} // a slot per webhook request being handled
}

// New builds the server; Start binds it.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 2 * time.Second
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1024
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 4096
	}
	s := &Server{opts: opts, inFlight: make(chan struct{}, opts.MaxInFlight)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("/channels/{channel}/webhook", s.bounded(s.channelWebhook))
	mux.HandleFunc("/channels/{channel}/webhook/{rest...}", s.bounded(s.channelWebhook))
	mux.HandleFunc("POST /webhooks/liveperson", s.bounded(s.liveEngage))
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Metrics == nil {
			http.NotFound(w, r)
			return
		}
		s.opts.Metrics.ServeHTTP(w, r)
	})
	s.http = &http.Server{
		Handler:           mux,
		ReadTimeout:       opts.ReadTimeout,
		ReadHeaderTimeout: opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          opts.Logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return s
}

// Start binds the listener and serves in the background.
func (s *Server) Start() error {
	tcp, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Listen, err)
	}
	useTLS := s.opts.CertFile != "" && s.opts.KeyFile != ""
	ln := &limitListener{Listener: tcp, max: int64(s.opts.MaxConnections), tls: useTLS, refused: s.opts.Refused}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() {
		var err error
		if useTLS {
			err = s.http.ServeTLS(ln, s.opts.CertFile, s.opts.KeyFile)
		} else {
			err = s.http.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.opts.Logger.Info("listening", "addr", ln.Addr().String(), "tls", s.opts.CertFile != "")
	return nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting and waits for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.http.Shutdown(ctx)
	if serveErr := <-s.done; serveErr != nil && err == nil {
		err = serveErr
	}
	return err
}

// bounded answers 503 with Retry-After when MaxInFlight webhook requests
// are being handled already.
func (s *Server) bounded(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.inFlight <- struct{}{}:
			defer func() { <-s.inFlight }()
			h(w, r)
		default:
			if s.opts.Refused != nil {
				s.opts.Refused()
			}
			s.opts.Logger.Debug("webhook refused: too many in flight", "path", r.URL.Path, "limit", s.opts.MaxInFlight)
			w.Header().Set("Retry-After", strconv.Itoa(int(busyRetryAfter/time.Second)))
			http.Error(w, "busy, retry later", http.StatusServiceUnavailable)
		}
	}
}

// readBody reads a bounded body, answering 413 (and returning false) beyond the limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.opts.Logger.Warn("request body too large", "path", r.URL.Path, "limit", s.opts.MaxBodyBytes)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		s.opts.Logger.Warn("cannot read request body", "path", r.URL.Path, "err", err)
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

func (s *Server) channelWebhook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	ch, ok := s.opts.Channels.Channel(name)
	if !ok {
		s.opts.Logger.Warn("webhook for an unknown channel", "channel", name)
		http.Error(w, "no such channel", http.StatusNotFound)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	res, err := ch.HandleWebhook(r.Context(), r, body, s.opts.PublicURL+r.URL.RequestURI())
	if err != nil {
		// The adapter is starting, restarting, failed or did not answer in
		// time: let the platform retry (they do on 5xx) rather than hold
		// the request open.
		status := http.StatusBadGateway
		if sdk.KindOf(err) == sdk.KindNotConnected || errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", strconv.Itoa(int(webhookRetryAfter/time.Second)))
		}
		s.opts.Logger.Warn("channel webhook not handled", "channel", name, "status", status, "err", err)
		http.Error(w, "channel unavailable", status)
		return
	}
	for k, vs := range res.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if res.StatusCode < 100 || res.StatusCode > 999 {
		res.StatusCode = http.StatusBadGateway
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(res.Body)
}

func (s *Server) liveEngage(w http.ResponseWriter, r *http.Request) {
	if s.opts.LiveEngage == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	s.opts.LiveEngage.ServeHTTP(w, r)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		name string
		err  error
	}
	var (
		wg      sync.WaitGroup
		results = make(chan result, len(s.opts.Checks))
	)
	for name, check := range s.opts.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), s.opts.CheckTimeout)
			defer cancel()
			results <- result{name, check(ctx)}
		}()
	}
	wg.Wait()
	close(results)
	report := map[string]string{}
	ready := true
	for res := range results {
		report[res.name] = "ok"
		if res.err != nil {
			ready = false
			report[res.name] = res.err.Error()
		}
	}
	names := make([]string, 0, len(report))
	for n := range report {
		names = append(names, n)
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", "application/json")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": report})
}
