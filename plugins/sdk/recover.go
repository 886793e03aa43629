package sdk

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recoverPanics is a unary interceptor that turns a panic in a handler into
// an error for that one call, with the stack in log, so that one bad input
// fails one RPC instead of the whole process. gRPC would otherwise let the
// panic end the process: an adapter's, or the core's for the Host service.
func recoverPanics(log hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (res any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in RPC handler; the call fails, the process keeps serving",
					"method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				res, err = nil, status.Errorf(codes.Internal, "panic in %s: %v", info.FullMethod, r)
			}
		}()
		return handler(ctx, req)
	}
}

// newGRPCServer builds a server with media-sized limits and panic recovery;
// extra options (the host's bounds) come last.
func newGRPCServer(log hclog.Logger, opts []grpc.ServerOption, extra ...grpc.ServerOption) *grpc.Server {
	opts = append(serverOptions(opts), grpc.ChainUnaryInterceptor(recoverPanics(log)))
	return grpc.NewServer(append(opts, extra...)...)
}
