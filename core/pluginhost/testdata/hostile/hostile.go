// Package hostile is a misbehaving adapter for the core's containment
// tests, written only against plugins/sdk as a careless or malicious third
// party would write one. Its config picks the misbehaviour:
//
//	mode: hang-configure  Configure never returns
//	      hang-send       Send never returns (it ignores its context)
//	      panic-send      Send panics
//	      hang-health     Health never returns
//	      oversize        Deliver is called from Start on, in a loop, twenty
//	                      calls at a time, with events over every bound:
//	                      texts and media of event_bytes, batches of 1000
//	                      events, and texts of huge_bytes (0 skips a kind)
//	      flood-stderr    stderr is written as fast as the core reads it
//
// GET {webhook}/stats answers what the adapter saw: the errors its Deliver
// calls returned, by limit, and how many calls it made. POST
// {webhook}/say?user=U&text=T delivers a message from consumer U, so that
// the core has a conversation to Send to.
package hostile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Config is the hostile adapter's config block.
type Config struct {
	Mode       string `json:"mode"`
	EventBytes int    `json:"event_bytes"` // oversize: text and media of this size
	HugeBytes  int    `json:"huge_bytes"`  // oversize: texts of this size
	Batch      bool   `json:"batch"`       // oversize: batches of 1000 small events
}

// Stats is what GET /stats answers.
type Stats struct {
	Calls    int            `json:"calls"`    // Deliver calls made
	Accepted int            `json:"accepted"` // Deliver calls that returned nil
	Refused  map[string]int `json:"refused"`  // refusals by sdk.LimitError.Limit
	Kinds    map[string]int `json:"kinds"`    // refusals by error kind
	Other    []string       `json:"other"`    // other errors, first few
}

// Adapter misbehaves as configured.
type Adapter struct {
	mu    sync.Mutex
	cfg   Config
	host  sdk.Host
	said  int
	stats Stats
}

// New returns an unconfigured hostile adapter.
func New() *Adapter {
	return &Adapter{stats: Stats{Refused: map[string]int{}, Kinds: map[string]int{}}}
}

func (a *Adapter) Describe() sdk.Description {
	return sdk.Description{Name: "hostile", Version: "0.0.1", Capabilities: sdk.Capabilities{Webhooks: true}}
}

func (a *Adapter) Configure(_ context.Context, s sdk.Setup) error {
	var cfg Config
	if err := s.Config.Decode(&cfg); err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg = cfg
	a.mu.Unlock()
	if cfg.Mode == "hang-configure" {
		select {} // ignores ctx: only a kill ends this
	}
	return nil
}

func (a *Adapter) Start(ctx context.Context, host sdk.Host) error {
	a.mu.Lock()
	a.host = host
	a.mu.Unlock()
	switch a.cfg.Mode {
	case "oversize":
		go a.oversize(ctx, host)
	case "flood-stderr":
		// Both ways an adapter writes: the stderr file the core reads, and
		// Go's os.Stderr, which go-plugin streams over gRPC once it serves.
		line := []byte(strings.Repeat("flood ", 20) + "\n")
		for _, w := range []io.Writer{os.NewFile(2, "stderr"), os.Stderr} {
			go func() {
				for ctx.Err() == nil {
					_, _ = w.Write(line)
				}
			}()
		}
	}
	return nil
}

// oversize calls Deliver over every bound until Close.
func (a *Adapter) oversize(ctx context.Context, host sdk.Host) {
	event := func(id string) sdk.Event {
		return sdk.Event{ID: id, Address: sdk.Address{ChatID: "c-" + id}, Consumer: sdk.Consumer{ID: "u-" + id}}
	}
	mid, huge := strings.Repeat("x", a.cfg.EventBytes), strings.Repeat("y", a.cfg.HugeBytes)
	for i := 0; ctx.Err() == nil; i++ {
		var calls [][]sdk.Event
		for j := 0; j < 20; j++ {
			id := fmt.Sprintf("%d-%d", i, j)
			switch {
			case j%4 == 0 && mid != "":
				e := event("text-" + id)
				e.Message = &sdk.Message{Text: mid}
				calls = append(calls, []sdk.Event{e})
			case j%4 == 1 && mid != "":
				e := event("media-" + id)
				e.Message = &sdk.Message{Media: []sdk.Media{{Kind: sdk.MediaImage, ContentType: "image/png", Data: []byte(mid)}}}
				calls = append(calls, []sdk.Event{e})
			case j%4 == 2 && a.cfg.Batch:
				var batch []sdk.Event
				for k := 0; k < 1000; k++ {
					e := event(fmt.Sprintf("batch-%s-%d", id, k))
					e.Message = &sdk.Message{Text: "small"}
					batch = append(batch, e)
				}
				calls = append(calls, batch)
			case huge != "":
				e := event("huge-" + id)
				e.Message = &sdk.Message{Text: huge}
				calls = append(calls, []sdk.Event{e})
			}
		}
		if len(calls) == 0 {
			return
		}
		var wg sync.WaitGroup
		for _, events := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.record(host.Deliver(ctx, events...))
			}()
		}
		wg.Wait()
	}
}

func (a *Adapter) record(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Calls++
	var le *sdk.LimitError
	switch {
	case err == nil:
		a.stats.Accepted++
	case errors.As(err, &le):
		a.stats.Refused[le.Limit]++
		a.stats.Kinds[sdk.KindOf(err).String()]++
	case len(a.stats.Other) < 5:
		a.stats.Other = append(a.stats.Other, err.Error())
	}
}

func (a *Adapter) Send(ctx context.Context, msg sdk.OutboundMessage) (sdk.SendResult, error) {
	switch a.cfg.Mode {
	case "hang-send":
		select {} // ignores ctx: only a kill ends this
	case "panic-send":
		var m map[string]int
		m[msg.Text]++ // assignment to a nil map
	}
	return sdk.SendResult{MessageIDs: []string{"h-" + msg.IdempotencyKey}}, nil
}

// Health answers at once, unless it is told to hang.
func (a *Adapter) Health(context.Context) error {
	if a.cfg.Mode == "hang-health" {
		select {} // ignores ctx: only a kill ends this
	}
	return nil
}

func (a *Adapter) Close(context.Context) error { return nil }

// ServeHTTP answers GET .../stats and POST .../say.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/stats"):
		a.mu.Lock()
		defer a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.stats)
	case strings.HasSuffix(r.URL.Path, "/say") && r.Method == http.MethodPost:
		user, text := r.URL.Query().Get("user"), r.URL.Query().Get("text")
		a.mu.Lock()
		a.said++
		id, host := fmt.Sprintf("say-%s-%d", user, a.said), a.host
		a.mu.Unlock()
		err := host.Deliver(r.Context(), sdk.Event{ID: id, Address: sdk.Address{ChatID: "chat-" + user},
			Consumer: sdk.Consumer{ID: user}, Message: &sdk.Message{ID: id, Text: text}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	default:
		http.NotFound(w, r)
	}
}
