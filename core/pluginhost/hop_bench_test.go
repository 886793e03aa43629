package pluginhost

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// BenchmarkPluginHop times one call from the core into a real adapter
// process and back (the echo adapter), reporting the median and p99 of the
// calls besides the mean: Health is the bare hop, SetTyping a small
// request, Send a message whose adapter delivers a receipt back to the core
// within the call (two hops). "plain" is the same without go-plugin's
// mutual TLS, to show what TLS costs.
//
//	go test -run '^$' -bench PluginHop ./core/pluginhost/
func BenchmarkPluginHop(b *testing.B) {
	for _, conn := range []struct {
		name  string
		plain bool
	}{{"mtls", false}, {"plain", true}} {
		opts, _ := testOptions(b)
		opts.plainConnection = conn.plain
		ch := launch(b, echoSpec("hop-"+conn.name), opts, &recorder{}, "")
		if err := ch.WaitStarted(context.Background()); err != nil {
			b.Fatal(err)
		}
		to := sdk.Address{ChatID: "c1"}
		for _, call := range []struct {
			name string
			fn   func(ctx context.Context) error
		}{
			{"Health", ch.Health},
			{"SetTyping", func(ctx context.Context) error { return ch.SetTyping(ctx, to, true) }},
			{"Send", func(ctx context.Context) error {
				_, err := ch.Send(ctx, sdk.OutboundMessage{To: to, Text: "hello from the agent"})
				return err
			}},
		} {
			b.Run(conn.name+"/"+call.name, func(b *testing.B) {
				ctx := context.Background()
				took := make([]time.Duration, 0, b.N)
				for b.Loop() {
					start := time.Now()
					if err := call.fn(ctx); err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(start))
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}
