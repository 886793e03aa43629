package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// refusingAdapter's platform refuses every send.
type refusingAdapter struct{ byteEcho }

func (*refusingAdapter) Send(context.Context, sdk.OutboundMessage) (sdk.SendResult, error) {
	return sdk.SendResult{}, sdk.Permanent(errors.New("chat not found"))
}

// A Send that reached the adapter keeps its error's meaning; one gRPC had
// no connection for (the adapter process is gone) says it never reached
// the adapter, so the core knows nothing can have gone out.
func TestCallsThatNeverReachTheAdapterSaySo(t *testing.T) {
	client, server := plugin.TestPluginGRPCConn(t, false, sdk.Plugins(&refusingAdapter{}))
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*sdk.AdapterClient)
	msg := sdk.OutboundMessage{To: sdk.Address{ChatID: "c"}, Text: "hi", IdempotencyKey: "k"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Send(ctx, msg)
	if sdk.KindOf(err) != sdk.KindPermanent || errors.Is(err, sdk.ErrCallNotDelivered) {
		t.Fatalf("a refusal from the adapter: %v", err)
	}
	server.Stop()
	// The first call may still find the closing connection (its error,
	// EOF, is ambiguous: a stream was opened); once gRPC knows the
	// connection is gone, calls fail without one.
	for {
		_, err = c.Send(ctx, msg)
		if errors.Is(err, sdk.ErrCallNotDelivered) || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(err, sdk.ErrCallNotDelivered) || sdk.KindOf(err) != sdk.KindNotConnected {
		t.Fatalf("a Send with the adapter gone: %v (kind %v); want ErrCallNotDelivered, not connected", err, sdk.KindOf(err))
	}
}
