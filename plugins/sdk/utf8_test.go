package sdk_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// byteEcho delivers what a webhook carried, bytes as they came: the text
// from the body, the consumer's name from a header, an attribute from the
// path.
type byteEcho struct{ host sdk.Host }

func (*byteEcho) Describe() sdk.Description {
	return sdk.Description{Name: "byteecho", Version: "1", Capabilities: sdk.Capabilities{Webhooks: true}}
}
func (*byteEcho) Configure(context.Context, sdk.Setup) error { return nil }
func (a *byteEcho) Start(_ context.Context, h sdk.Host) error {
	a.host = h
	return nil
}
func (*byteEcho) Send(context.Context, sdk.OutboundMessage) (sdk.SendResult, error) {
	return sdk.SendResult{}, nil
}
func (*byteEcho) Close(context.Context) error { return nil }
func (a *byteEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	name := r.Header.Get("X-Name")
	err := a.host.Deliver(r.Context(), sdk.Event{
		ID: "ev\xff1", Address: sdk.Address{ChatID: "chat"},
		Consumer: sdk.Consumer{ID: "c1", DisplayName: name, Attributes: map[string]string{"path\xfe": r.URL.Path}},
		Message:  &sdk.Message{Text: string(body), Media: []sdk.Media{{Kind: sdk.MediaFile, FileName: "f\xc3.txt", Data: []byte("\xff")}}},
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

type keptEvents struct {
	mu     sync.Mutex
	events []sdk.Event
}

func (k *keptEvents) Deliver(_ context.Context, evs []sdk.Event) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.events = append(k.events, evs...)
	return nil
}

// startOverGRPC serves a over real gRPC with go-plugin's broker, as the
// core does, configures it with an empty block and starts it with o.
func startOverGRPC(t *testing.T, a sdk.Adapter, o sdk.HostOptions) *sdk.AdapterClient {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, sdk.Plugins(a))
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*sdk.AdapterClient)
	ctx := context.Background()
	if fe, err := c.Configure(ctx, "test", []byte(`{}`)); err != nil || len(fe) > 0 {
		t.Fatal(fe, err)
	}
	if err := c.Start(ctx, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Bytes that are not UTF-8, in a webhook's header, path and body, cross
// both gRPC hops as U+FFFD instead of failing them (Protocol Buffers
// refuse such strings): the message is delivered, not retried for ever.
func TestBytesThatAreNotUTF8CrossTheProcessBoundary(t *testing.T) {
	kept := &keptEvents{}
	c := startOverGRPC(t, &byteEcho{}, sdk.HostOptions{Deliverer: kept, WebhookURL: "http://127.0.0.1/channels/bytes/webhook"})
	ctx := context.Background()

	req := httptest.NewRequest(http.MethodPost, "/channels/bytes/webhook/%FF", strings.NewReader("caf\xe9 ok"))
	req.Header.Set("X-Name", "Ren\xe9e")
	res, err := c.HandleWebhook(ctx, req, []byte("caf\xe9 ok"), "http://127.0.0.1/channels/bytes/webhook/%FF")
	if err != nil {
		t.Fatalf("HandleWebhook: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the adapter answered %d: %s", res.StatusCode, res.Body)
	}
	kept.mu.Lock()
	defer kept.mu.Unlock()
	if len(kept.events) != 1 {
		t.Fatalf("delivered %d events", len(kept.events))
	}
	ev := kept.events[0]
	m := ev.Message
	if ev.ID != "ev\uFFFD1" || m.Text != "caf\uFFFD ok" || ev.Consumer.DisplayName != "Ren\uFFFDe" ||
		ev.Consumer.Attributes["path\uFFFD"] != "/channels/bytes/webhook/\uFFFD" || m.Media[0].FileName != "f\uFFFD.txt" ||
		string(m.Media[0].Data) != "\xff" {
		t.Fatalf("delivered %+v %+v", ev, m.Media)
	}
}
