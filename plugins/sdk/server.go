package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/leconnect/leconnect/proto/leconnect/adapter/v1"
)

// adapterServer is the adapter-side shim: it serves the generated Adapter
// service by calling the author's Go implementation.
type adapterServer struct {
	pb.UnimplementedAdapterServer
	impl   Adapter
	broker *plugin.GRPCBroker
	logger hclog.Logger

	mu       sync.Mutex
	life     context.Context // lives from Start until Close
	stop     context.CancelFunc
	hostConn *grpc.ClientConn
	journal  *journal    // nil when the core offers no state dir
	host     *hostClient // set by Start

	// Sends in flight, so a dying core's last Sends finish and are journaled.
	inflight sync.WaitGroup
	closing  bool // guarded by mu: no new Sends once draining
	sending  keyLocks
}

func newAdapterServer(impl Adapter, broker *plugin.GRPCBroker) *adapterServer {
	life, stop := context.WithCancel(context.Background())
	return &adapterServer{impl: impl, broker: broker, logger: processLogger(), life: life, stop: stop}
}

func (s *adapterServer) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d := s.impl.Describe()
	return &pb.DescribeResponse{Name: d.Name, Version: d.Version, Capabilities: capabilitiesToProto(d.Capabilities)}, nil
}

func (s *adapterServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	err := s.impl.Configure(ctx, Setup{
		Channel: req.GetChannel(),
		Config:  NewConfig(req.GetConfigJson()),
		Logger:  s.logger,
	})
	var fe FieldErrors
	if errors.As(err, &fe) {
		out := &pb.ConfigureResponse{}
		for _, e := range fe {
			out.FieldErrors = append(out.FieldErrors, &pb.FieldError{Field: e.Field, Message: e.Message})
		}
		return out, nil
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *adapterServer) Start(ctx context.Context, req *pb.StartRequest) (*pb.StartResponse, error) {
	conn, err := s.broker.Dial(req.GetHostBrokerId())
	if err != nil {
		return nil, toStatus(NotConnected(fmt.Errorf("dial host through broker: %w", err)))
	}
	host := &hostClient{rpc: pb.NewHostClient(conn), webhookURL: req.GetWebhookUrl(), stateDir: req.GetStateDir(),
		journal: req.GetHostJournal(), singletons: req.GetHostSingletons()}
	var j *journal
	if dir := req.GetStateDir(); dir != "" {
		if j, err = openJournal(dir, time.Now()); err != nil {
			return nil, toStatus(err)
		}
	}
	if j != nil && host.journal {
		// Sends an earlier process could not record with the core (it was
		// gone by then) go to the core's journal before any Send is taken.
		if n, err := j.handOver(ctx, host.recordSend); err != nil {
			_ = j.close()
			return nil, toStatus(NotConnected(fmt.Errorf("hand the local send journal to the core: %w", err)))
		} else if n > 0 {
			s.logger.Info("handed sends recorded while the core was away to its journal", "sends", n)
		}
	}
	s.mu.Lock()
	s.hostConn = conn
	s.host = host
	if j != nil {
		s.journal = j
	}
	life := s.life
	s.mu.Unlock()
	if err := s.impl.Start(life, host); err != nil {
		return nil, toStatus(err)
	}
	return &pb.StartResponse{}, nil
}

func (s *adapterServer) HandleWebhook(ctx context.Context, req *pb.HandleWebhookRequest) (*pb.HandleWebhookResponse, error) {
	h, ok := s.impl.(http.Handler)
	if !ok {
		return &pb.HandleWebhookResponse{StatusCode: http.StatusNotFound, Body: []byte("this channel does not receive webhooks\n")}, nil
	}
	r, err := webhookRequest(ctx, req)
	if err != nil {
		return nil, toStatus(Permanent(err))
	}
	w := &responseBuffer{header: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &pb.HandleWebhookResponse{StatusCode: int32(w.status), Headers: headersToProto(w.header), Body: w.body.Bytes()}, nil
}

// webhookRequest rebuilds the platform's HTTP request. Its URL is the full
// public URL the platform called, which is what platforms sign.
func webhookRequest(ctx context.Context, req *pb.HandleWebhookRequest) (*http.Request, error) {
	target := req.GetPublicUrl()
	if target == "" {
		target = "http://localhost" + req.GetPath()
		if q := req.GetRawQuery(); q != "" {
			target += "?" + q
		}
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("webhook url %q: %w", target, err)
	}
	r, err := http.NewRequestWithContext(ctx, req.GetMethod(), u.String(), bytes.NewReader(req.GetBody()))
	if err != nil {
		return nil, fmt.Errorf("rebuild webhook request: %w", err)
	}
	r.Header = headersFromProto(req.GetHeaders())
	r.RemoteAddr = req.GetRemoteAddr()
	r.RequestURI = u.RequestURI()
	return r, nil
}

// Send answers a repeated idempotency key from the journal (the core's,
// shared by a cluster, when it offers one; else the adapter's own), and
// journals every successful send before answering, so that a Send the core
// repeats after a crash or a takeover does not reach the consumer twice.
func (s *adapterServer) Send(ctx context.Context, req *pb.SendRequest) (*pb.SendResponse, error) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil, toStatus(NotConnected(errors.New("adapter is shutting down")))
	}
	s.inflight.Add(1)
	j, host := s.journal, s.host
	s.mu.Unlock()
	defer s.inflight.Done()

	key := req.GetIdempotencyKey()
	useHost := host != nil && host.journal && key != ""
	useLocal := j != nil && key != ""
	if useHost || useLocal {
		unlock := s.sending.lock(key)
		defer unlock()
		if useLocal {
			if ids, ok := j.lookup(key); ok {
				s.logger.Debug("repeated send answered from the journal", "key", key)
				return &pb.SendResponse{MessageIds: ids}, nil
			}
		}
		if useHost && !req.GetJournalChecked() { // else the core just did
			ids, found, err := host.lookupSend(ctx, key)
			if err != nil {
				return nil, toStatus(NotConnected(fmt.Errorf("look up the send in the core's journal: %w", err)))
			}
			if found {
				s.logger.Debug("repeated send answered from the core's journal", "key", key)
				return &pb.SendResponse{MessageIds: ids}, nil
			}
		}
	}
	// The platform call is not cut short if the core goes away meanwhile
	// (its result must reach the journal), but the core's deadline holds.
	sendCtx := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithDeadline(sendCtx, deadline)
		defer cancel()
	}
	if since := req.GetInDoubtSinceUnixMs(); since > 0 && key != "" {
		if r, ok := s.impl.(SendResolver); ok {
			res, found, err := r.ResolveSend(sendCtx, sendFromProto(req), time.UnixMilli(since))
			if err != nil {
				return nil, toStatus(fmt.Errorf("ask the platform whether the send in doubt went out: %w", err))
			}
			if found {
				s.logger.Info("a send in doubt had gone out: answered from the platform's record", "key", key, "message_ids", res.MessageIDs)
				s.record(j, host, key, res.MessageIDs, useHost, useLocal)
				return &pb.SendResponse{MessageIds: res.MessageIDs, Resolved: true}, nil
			}
			s.logger.Info("a send in doubt had not gone out: sending it", "key", key)
		}
	}
	res, err := s.impl.Send(sendCtx, sendFromProto(req))
	if err != nil {
		return nil, toStatus(err)
	}
	s.record(j, host, key, res.MessageIDs, useHost, useLocal)
	return &pb.SendResponse{MessageIds: res.MessageIDs}, nil
}

// recordTimeout bounds recording a send with the core.
const recordTimeout = 10 * time.Second

// record journals a successful send: with the core when it offers its
// journal, locally when it does not or cannot be reached (a dying core),
// to be handed to the core at the next Start.
func (s *adapterServer) record(j *journal, host *hostClient, key string, ids []string, useHost, useLocal bool) {
	if useHost {
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		err := host.recordSend(ctx, key, ids)
		cancel()
		if err == nil {
			return
		}
		if !useLocal {
			s.logger.Error("sent, but could not journal the send; a retry may send it again", "err", err)
			return
		}
		s.logger.Warn("sent, but the core's journal is out of reach; journaled locally until the next start", "err", err)
	}
	if useLocal {
		if err := j.record(key, ids, time.Now()); err != nil {
			s.logger.Error("sent, but could not journal the send; a retry may send it again", "err", err)
		}
	}
}

// drain stops taking Sends and waits (at most timeout) for those in flight.
func (s *adapterServer) drain(timeout time.Duration) {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		s.logger.Warn("sends still in flight at exit; the core will retry them", "timeout", timeout)
	}
	s.mu.Lock()
	if s.journal != nil {
		_ = s.journal.close()
		s.journal = nil
	}
	s.mu.Unlock()
}

// keyLocks serialises work per key.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

func (s *adapterServer) SetTyping(ctx context.Context, req *pb.SetTypingRequest) (*pb.SetTypingResponse, error) {
	t, ok := s.impl.(TypingSetter)
	if !ok {
		return nil, toStatus(Permanent(errors.New("adapter does not support typing indicators")))
	}
	if err := t.SetTyping(ctx, addressFromProto(req.GetAddress()), req.GetActive()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.SetTypingResponse{}, nil
}

func (s *adapterServer) MarkRead(ctx context.Context, req *pb.MarkReadRequest) (*pb.MarkReadResponse, error) {
	m, ok := s.impl.(ReadMarker)
	if !ok {
		return nil, toStatus(Permanent(errors.New("adapter does not support read receipts")))
	}
	if err := m.MarkRead(ctx, addressFromProto(req.GetAddress()), req.GetMessageIds()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.MarkReadResponse{}, nil
}

func (s *adapterServer) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	if h, ok := s.impl.(HealthChecker); ok {
		if err := h.Health(ctx); err != nil {
			return &pb.HealthResponse{Healthy: false, Message: err.Error()}, nil
		}
	}
	return &pb.HealthResponse{Healthy: true}, nil
}

func (s *adapterServer) Close(ctx context.Context, _ *pb.CloseRequest) (*pb.CloseResponse, error) {
	s.drain(drainTimeout) // in-flight Sends finish and reach the journal, which is released
	err := s.impl.Close(ctx)
	s.mu.Lock()
	s.stop()
	if s.hostConn != nil {
		_ = s.hostConn.Close()
		s.hostConn = nil
	}
	s.mu.Unlock()
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CloseResponse{}, nil
}

// hostClient is the adapter's view of the core.
type hostClient struct {
	rpc        pb.HostClient
	webhookURL string
	stateDir   string
	journal    bool // the core offers its send journal
	singletons bool // the core offers HoldSingleton
}

func (h *hostClient) runExclusive(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if !h.singletons {
		return fn(ctx)
	}
	holdCtx, release := context.WithCancel(ctx)
	defer release() // ends the call: the core gives the lease up
	stream, err := h.rpc.HoldSingleton(holdCtx, &pb.HoldSingletonRequest{Name: name})
	if err != nil {
		return NotConnected(fmt.Errorf("hold %q: %w", name, fromStatus(err)))
	}
	if _, err := stream.Recv(); err != nil { // blocks until the lease is held
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return NotConnected(fmt.Errorf("hold %q: %w", name, fromStatus(err)))
	}
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	lost := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				lost <- err
				stopWork()
				return
			}
		}
	}()
	err = fn(workCtx)
	if ctx.Err() == nil {
		select {
		case l := <-lost:
			return NotConnected(fmt.Errorf("lease %q lost: %w", name, fromStatus(l)))
		default:
		}
	}
	return err
}

func (h *hostClient) lookupSend(ctx context.Context, key string) ([]string, bool, error) {
	res, err := h.rpc.LookupSend(ctx, &pb.LookupSendRequest{IdempotencyKey: key}, callOptions...)
	if err != nil {
		return nil, false, fromStatus(err)
	}
	return res.GetMessageIds(), res.GetFound(), nil
}

func (h *hostClient) recordSend(ctx context.Context, key string, ids []string) error {
	_, err := h.rpc.RecordSend(ctx, &pb.RecordSendRequest{IdempotencyKey: key, MessageIds: ids}, callOptions...)
	return fromStatus(err)
}

func (h *hostClient) WebhookURL() string { return h.webhookURL }
func (h *hostClient) StateDir() string   { return h.stateDir }

func (h *hostClient) Deliver(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	req := &pb.DeliverRequest{Events: make([]*pb.Event, 0, len(events))}
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return Permanent(err)
		}
		req.Events = append(req.Events, eventToProto(e))
	}
	validUTF8(req.ProtoReflect())
	_, err := h.rpc.Deliver(ctx, req, callOptions...)
	return fromStatus(err)
}

// responseBuffer is a minimal http.ResponseWriter that keeps the response.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *responseBuffer) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}
