package sdk

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/leconnect/leconnect/proto/leconnect/adapter/v1"
)

// ProtocolVersion is the adapter protocol version this SDK speaks.
const ProtocolVersion = 1

// PluginName is the go-plugin name under which the adapter is dispensed.
const PluginName = "adapter"

// MaxMessageBytes bounds one gRPC message in either direction; media travel
// inline, so this is the largest file an adapter can pass.
const MaxMessageBytes = 64 << 20

// Handshake is frozen: changing it breaks every adapter binary in the field.
// It is not a security measure, only a guard against running a random
// executable as an adapter (or an adapter by hand).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "LECONNECT_ADAPTER_PLUGIN",
	MagicCookieValue: "7b1f1c4e0d0a4c3e9a2f5d6b8c1e3a47-leconnect-adapter-v1",
}

// pluginSets returns the versioned plugin sets; for the host, impl is nil.
func pluginSets(impl Adapter) map[int]plugin.PluginSet { return pluginSetsFor(&grpcPlugin{impl: impl}) }

func pluginSetsFor(p *grpcPlugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{1: {PluginName: p}}
}

// VersionedPlugins is what the host passes to go-plugin's ClientConfig.
func VersionedPlugins() map[int]plugin.PluginSet { return pluginSets(nil) }

// Plugins is the current protocol's plugin set serving a; adaptertest uses
// it to run an adapter over real gRPC inside a test process.
func Plugins(a Adapter) plugin.PluginSet { return pluginSets(a)[ProtocolVersion] }

// grpcPlugin implements plugin.GRPCPlugin for both sides.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Adapter // adapter side only

	mu     sync.Mutex
	server *adapterServer // adapter side, once go-plugin built it
}

func (p *grpcPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	srv := newAdapterServer(p.impl, broker)
	p.mu.Lock()
	p.server = srv
	p.mu.Unlock()
	pb.RegisterAdapterServer(s, srv)
	return nil
}

// drain lets in-flight Sends finish before the process exits.
func (p *grpcPlugin) drain(timeout time.Duration) {
	p.mu.Lock()
	srv := p.server
	p.mu.Unlock()
	if srv != nil {
		srv.drain(timeout)
	}
}

func (p *grpcPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &AdapterClient{rpc: pb.NewAdapterClient(conn), broker: broker}, nil
}

// callOptions let media-sized messages through in both directions.
var callOptions = []grpc.CallOption{
	grpc.MaxCallRecvMsgSize(MaxMessageBytes),
	grpc.MaxCallSendMsgSize(MaxMessageBytes),
}

func serverOptions(opts []grpc.ServerOption) []grpc.ServerOption {
	return append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
}
