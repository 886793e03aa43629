package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/leconnect/leconnect/proto/leconnect/adapter/v1"
)

// Deliverer is what the core implements to receive an adapter's events. It
// returns nil only once every event is durably stored or known as a duplicate.
type Deliverer interface {
	Deliver(ctx context.Context, events []Event) error
}

// AdapterClient is the core's handle on one running adapter process. Errors
// it returns carry the SDK's vocabulary ([KindOf], [RetryDelay]); when the
// process is gone they are [KindNotConnected].
type AdapterClient struct {
	rpc    pb.AdapterClient
	broker *plugin.GRPCBroker
}

// Dispense returns the adapter client of a started go-plugin client.
func Dispense(c *plugin.Client) (*AdapterClient, error) {
	rpcClient, err := c.Client()
	if err != nil {
		return nil, fmt.Errorf("connect to adapter: %w", err)
	}
	raw, err := rpcClient.Dispense(PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense adapter: %w", err)
	}
	ac, ok := raw.(*AdapterClient)
	if !ok {
		return nil, fmt.Errorf("dispense adapter: unexpected type %T", raw)
	}
	return ac, nil
}

// GRPCDialOptions are the dial options the host passes to go-plugin.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(callOptions...)}
}

// grpcServer builds the adapter-side gRPC server (go-plugin calls it).
func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	return newGRPCServer(processLogger(), opts)
}

func (c *AdapterClient) Describe(ctx context.Context) (Description, error) {
	res, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, fromStatus(err)
	}
	return Description{Name: res.GetName(), Version: res.GetVersion(), Capabilities: capabilitiesFromProto(res.GetCapabilities())}, nil
}

// Configure passes the channel's config block. Field problems come back as
// FieldErrors (possibly empty); err is for everything else.
func (c *AdapterClient) Configure(ctx context.Context, channel string, configJSON []byte) (FieldErrors, error) {
	res, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{Channel: channel, ConfigJson: configJSON})
	if err != nil {
		return nil, fromStatus(err)
	}
	var fe FieldErrors
	for _, e := range res.GetFieldErrors() {
		fe = append(fe, FieldError{Field: e.GetField(), Message: e.GetMessage()})
	}
	return fe, nil
}

// HostOptions say how the core serves the Host service to one adapter.
type HostOptions struct {
	// Deliverer receives the adapter's events.
	Deliverer Deliverer
	// WebhookURL is the public URL the platform must call for this channel.
	WebhookURL string
	// StateDir is the channel's private directory that survives restarts;
	// "" for none.
	StateDir string
	// MaxRequestBytes bounds one Deliver call as it arrives: gRPC refuses a
	// larger one from its length prefix, before reading it into memory.
	// 0 means MaxMessageBytes.
	MaxRequestBytes int
	// MaxConcurrentDelivers bounds the Deliver calls the adapter may have in
	// progress at once (more wait for a slot), so that memory held by calls
	// being received is at most MaxConcurrentDelivers × MaxRequestBytes.
	// 0 means 16 (fewer holds back the group commits that many small
	// deliveries share: 4 cost a third of the inbound flood throughput).
	MaxConcurrentDelivers uint32
	// Logger receives panics recovered in the Host service; nil discards.
	Logger hclog.Logger
	// Refused, if set, is told of each Deliver call gRPC refused over
	// MaxRequestBytes (it never reaches Deliverer, which counts its own).
	Refused func(limit string)
	// Journal, if set, is offered to the adapter as its send journal
	// (Host.LookupSend/RecordSend); nil: the adapter keeps its own.
	Journal SendJournal
	// Singletons, if set, holds cluster-wide leases for the adapter
	// (Host.HoldSingleton); nil: the adapter's exclusive work just runs.
	Singletons SingletonHolder
}

// SendJournal is the core's journal of one channel's sends by idempotency
// key (kept in its store, shared by a cluster's instances).
type SendJournal interface {
	LookupSend(ctx context.Context, key string) (messageIDs []string, found bool, err error)
	RecordSend(ctx context.Context, key string, messageIDs []string) error
}

// SingletonHolder holds one channel's cluster-wide named leases.
type SingletonHolder interface {
	// HoldSingleton waits until it holds the lease named name, calls held
	// with its expiry, and renews it (calling held again) until ctx ends,
	// when it gives the lease up and returns ctx's error, or until the
	// lease is lost, when it returns an error saying so.
	HoldSingleton(ctx context.Context, name string, held func(expires time.Time)) error
}

// Start serves the Host service for this adapter on the broker, then tells
// the adapter to begin receiving.
func (c *AdapterClient) Start(ctx context.Context, o HostOptions) error {
	if o.MaxRequestBytes <= 0 || o.MaxRequestBytes > MaxMessageBytes {
		o.MaxRequestBytes = MaxMessageBytes
	}
	if o.MaxConcurrentDelivers == 0 {
		o.MaxConcurrentDelivers = 16
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	id := c.broker.NextId()
	go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		extra := []grpc.ServerOption{grpc.MaxRecvMsgSize(o.MaxRequestBytes), grpc.MaxConcurrentStreams(o.MaxConcurrentDelivers)}
		if o.Refused != nil {
			extra = append(extra, grpc.StatsHandler(oversizeCounter(o.Refused)))
		}
		s := newGRPCServer(o.Logger, opts, extra...)
		pb.RegisterHostServer(s, &hostServer{d: o.Deliverer, journal: o.Journal, singletons: o.Singletons})
		return s
	})
	_, err := c.rpc.Start(ctx, &pb.StartRequest{HostBrokerId: id, WebhookUrl: o.WebhookURL, StateDir: o.StateDir,
		HostJournal: o.Journal != nil, HostSingletons: o.Singletons != nil})
	return fromStatus(err)
}

// WebhookResponse is the adapter's answer to a forwarded platform request.
type WebhookResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// HandleWebhook forwards a platform request whose body was already read.
// publicURL is the full URL the platform called (what it signs).
func (c *AdapterClient) HandleWebhook(ctx context.Context, r *http.Request, body []byte, publicURL string) (WebhookResponse, error) {
	req := &pb.HandleWebhookRequest{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Headers:    headersToProto(r.Header),
		Body:       body,
		RemoteAddr: r.RemoteAddr,
		PublicUrl:  publicURL,
	}
	validUTF8(req.ProtoReflect()) // a header or path with bytes that are not UTF-8
	res, err := c.rpc.HandleWebhook(ctx, req)
	if err != nil {
		return WebhookResponse{}, fromStatus(err)
	}
	return WebhookResponse{StatusCode: int(res.GetStatusCode()), Header: headersFromProto(res.GetHeaders()), Body: res.GetBody()}, nil
}

func (c *AdapterClient) Send(ctx context.Context, msg OutboundMessage) (SendResult, error) {
	return c.send(ctx, sendToProto(msg))
}

// SendLookedUp is Send for a host that offers the adapter its send journal
// (HostOptions.Journal) and has just looked msg's idempotency key up there
// and found nothing: the adapter does not look it up again (one round trip
// less per message); it still records the send.
func (c *AdapterClient) SendLookedUp(ctx context.Context, msg OutboundMessage) (SendResult, error) {
	req := sendToProto(msg)
	req.JournalChecked = true
	return c.send(ctx, req)
}

// SendInDoubt is SendLookedUp for a send an earlier attempt began at begun
// and never recorded: an adapter that resolves sends asks its platform
// first, and the result says whether it had it (Resolved).
func (c *AdapterClient) SendInDoubt(ctx context.Context, msg OutboundMessage, begun time.Time) (SendResult, error) {
	req := sendToProto(msg)
	req.JournalChecked = true
	req.InDoubtSinceUnixMs = begun.UnixMilli()
	return c.send(ctx, req)
}

// ErrCallNotDelivered marks a failed Send the adapter cannot have
// received: gRPC had no connection to send it on (the adapter process was
// down). Its message cannot have reached the platform.
var ErrCallNotDelivered = errors.New("the call never reached the adapter")

func (c *AdapterClient) send(ctx context.Context, req *pb.SendRequest) (SendResult, error) {
	var p peer.Peer // set only once the call had a stream to the adapter
	res, err := c.rpc.Send(ctx, req, grpc.Peer(&p))
	if err != nil {
		if p.Addr == nil {
			return SendResult{}, fmt.Errorf("%w: %w", ErrCallNotDelivered, fromStatus(err))
		}
		return SendResult{}, fromStatus(err)
	}
	return SendResult{MessageIDs: res.GetMessageIds(), Resolved: res.GetResolved()}, nil
}

func (c *AdapterClient) SetTyping(ctx context.Context, to Address, active bool) error {
	_, err := c.rpc.SetTyping(ctx, &pb.SetTypingRequest{Address: addressToProto(to), Active: active})
	return fromStatus(err)
}

func (c *AdapterClient) MarkRead(ctx context.Context, at Address, messageIDs []string) error {
	_, err := c.rpc.MarkRead(ctx, &pb.MarkReadRequest{Address: addressToProto(at), MessageIds: messageIDs})
	return fromStatus(err)
}

// Health returns nil when the adapter says it is healthy.
func (c *AdapterClient) Health(ctx context.Context) error {
	res, err := c.rpc.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return fromStatus(err)
	}
	if !res.GetHealthy() {
		return errors.New(res.GetMessage())
	}
	return nil
}

func (c *AdapterClient) Close(ctx context.Context) error {
	_, err := c.rpc.Close(ctx, &pb.CloseRequest{})
	return fromStatus(err)
}

// hostServer is the core-side shim serving the generated Host service.
type hostServer struct {
	pb.UnimplementedHostServer
	d          Deliverer
	journal    SendJournal     // nil: not offered
	singletons SingletonHolder // nil: not offered
}

func (h *hostServer) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverResponse, error) {
	events := make([]Event, 0, len(req.GetEvents()))
	for _, pe := range req.GetEvents() {
		e := eventFromProto(pe)
		if err := e.Validate(); err != nil {
			return nil, toStatus(Permanent(err))
		}
		events = append(events, e)
	}
	if err := h.d.Deliver(ctx, events); err != nil {
		if KindOf(err) == KindTransient {
			err = NotConnected(err) // nothing stored: the adapter must not ack the platform
		}
		return nil, toStatus(err)
	}
	return &pb.DeliverResponse{}, nil
}

func (h *hostServer) LookupSend(ctx context.Context, req *pb.LookupSendRequest) (*pb.LookupSendResponse, error) {
	if h.journal == nil {
		return nil, status.Error(codes.Unimplemented, "this core offers no send journal")
	}
	ids, found, err := h.journal.LookupSend(ctx, req.GetIdempotencyKey())
	if err != nil {
		return nil, toStatus(NotConnected(err))
	}
	return &pb.LookupSendResponse{Found: found, MessageIds: ids}, nil
}

func (h *hostServer) RecordSend(ctx context.Context, req *pb.RecordSendRequest) (*pb.RecordSendResponse, error) {
	if h.journal == nil {
		return nil, status.Error(codes.Unimplemented, "this core offers no send journal")
	}
	if err := h.journal.RecordSend(ctx, req.GetIdempotencyKey(), req.GetMessageIds()); err != nil {
		return nil, toStatus(NotConnected(err))
	}
	return &pb.RecordSendResponse{}, nil
}

func (h *hostServer) HoldSingleton(req *pb.HoldSingletonRequest, stream pb.Host_HoldSingletonServer) error {
	if h.singletons == nil {
		return status.Error(codes.Unimplemented, "this core offers no singletons")
	}
	err := h.singletons.HoldSingleton(stream.Context(), req.GetName(), func(expires time.Time) {
		_ = stream.Send(&pb.HoldSingletonEvent{ExpiresAtUnixMs: expires.UnixMilli()})
	})
	if stream.Context().Err() != nil {
		return nil // the adapter gave the lease up
	}
	return toStatus(NotConnected(err))
}
