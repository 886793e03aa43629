// Package adaptertest is the conformance suite every leconnect adapter runs
// from its own tests, ours and third parties' alike:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, func() sdk.Adapter { return myadapter.New() }, adaptertest.Options{
//			Config:  []byte(`{"token":"t"}`),
//			Address: sdk.Address{ChatID: "42"},
//			Inbound: func(ctx context.Context, webhookURL, text string) error { ... },
//		})
//	}
//
// The suite serves the adapter over real gRPC with go-plugin's broker (in the
// test process), plays the core's part (Host.Deliver, webhook forwarding) and
// checks the contract: description and capabilities agree, config is strict,
// sends return ids and tolerate retries, inbound events are valid and only
// delivered for authentic requests, and concurrent use is safe. Point the
// adapter at its platform emulator through Config.
package adaptertest
