package liveengage

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Endpoint names for per-endpoint faults. "*" applies to every endpoint
// that has no entry of its own.
const (
	EndpointDomain       = "domain"
	EndpointSentinel     = "sentinel"
	EndpointIDP          = "idp"
	EndpointConversation = "conversation"
	EndpointSend         = "send"
	EndpointFiles        = "files"
	EndpointAll          = "*"
)

var faultEndpoints = []string{EndpointDomain, EndpointSentinel, EndpointIDP, EndpointConversation, EndpointSend, EndpointFiles, EndpointAll}

// Faults is the runtime fault-injection setting. The zero value injects
// nothing.
type Faults struct {
	Endpoints map[string]EndpointFaults `json:"endpoints,omitempty"`
	Webhooks  WebhookFaults             `json:"webhooks"`
}

// EndpointFaults applies to one API endpoint.
type EndpointFaults struct {
	// LatencyMs is added before the request is handled.
	LatencyMs int `json:"latencyMs,omitempty"`
	// Rate429 and Rate5xx are the shares (0–1) of requests answered with
	// 429 or with Status5xx (500, 502, 503 or 504; default 503).
	Rate429   float64 `json:"rate429,omitempty"`
	Rate5xx   float64 `json:"rate5xx,omitempty"`
	Status5xx int     `json:"status5xx,omitempty"`
}

// WebhookFaults are shares (0–1) of webhook notifications that are dropped
// (never sent), duplicated (sent twice) or reordered (sent after the next
// notification of the same delivery lane).
type WebhookFaults struct {
	DropRate      float64 `json:"dropRate,omitempty"`
	DuplicateRate float64 `json:"duplicateRate,omitempty"`
	ReorderRate   float64 `json:"reorderRate,omitempty"`
}

func checkRate(name string, v float64) error {
	if v < 0 || v > 1 {
		return fmt.Errorf("%s %v: %w: want a share between 0 and 1", name, v, ErrInvalidInput)
	}
	return nil
}

// Validate reports the first out-of-range setting.
func (f Faults) Validate() error {
	for name, ef := range f.Endpoints {
		known := false
		for _, k := range faultEndpoints {
			known = known || k == name
		}
		if !known {
			return fmt.Errorf("endpoint %q: %w: want one of %v", name, ErrInvalidInput, faultEndpoints)
		}
		if ef.LatencyMs < 0 || ef.LatencyMs > 60000 {
			return fmt.Errorf("endpoint %s: latencyMs %d: %w: want 0-60000", name, ef.LatencyMs, ErrInvalidInput)
		}
		if err := checkRate("endpoint "+name+": rate429", ef.Rate429); err != nil {
			return err
		}
		if err := checkRate("endpoint "+name+": rate5xx", ef.Rate5xx); err != nil {
			return err
		}
		switch ef.Status5xx {
		case 0, 500, 502, 503, 504:
		default:
			return fmt.Errorf("endpoint %s: status5xx %d: %w: want 500, 502, 503 or 504", name, ef.Status5xx, ErrInvalidInput)
		}
	}
	if err := checkRate("webhooks: dropRate", f.Webhooks.DropRate); err != nil {
		return err
	}
	if err := checkRate("webhooks: duplicateRate", f.Webhooks.DuplicateRate); err != nil {
		return err
	}
	return checkRate("webhooks: reorderRate", f.Webhooks.ReorderRate)
}

// SetFaults replaces the fault-injection setting at runtime.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	cp := f
	cp.Endpoints = make(map[string]EndpointFaults, len(f.Endpoints))
	for k, v := range f.Endpoints {
		cp.Endpoints[k] = v
	}
	e.faults.Store(&cp)
	return nil
}

// Faults returns the current fault-injection setting.
func (e *Emulator) Faults() Faults {
	f := *e.faults.Load()
	cp := make(map[string]EndpointFaults, len(f.Endpoints))
	for k, v := range f.Endpoints {
		cp[k] = v
	}
	f.Endpoints = cp
	return f
}

// fault5xx describes the injected server errors in the unified style.
var fault5xx = map[int]struct {
	code           int
	title, details string
}{
	500: {50001, "Internal Server Error", "Internal server error"},
	502: {50201, "Unable to access resource", "Failed to connect to upstream service"},
	503: {50301, "Service Unavailable", "Service is temporarily unavailable"},
	504: {50401, "Gateway Timeout", "Upstream service timed out"},
}

// injectFault applies latency and the 429 / 5xx shares for endpoint and
// reports whether it already answered the request.
func (e *Emulator) injectFault(w http.ResponseWriter, r *http.Request, endpoint, reqID string) bool {
	e.countCall(endpoint)
	f := e.faults.Load()
	if len(f.Endpoints) == 0 {
		return false
	}
	ef, ok := f.Endpoints[endpoint]
	if !ok {
		if ef, ok = f.Endpoints[EndpointAll]; !ok {
			return false
		}
	}
	if ef.LatencyMs > 0 {
		t := time.NewTimer(time.Duration(ef.LatencyMs) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if ef.Rate429 > 0 && rand.Float64() < ef.Rate429 {
		writeUnifiedError(w, http.StatusTooManyRequests, reqID, 42900, "Too Many Requests", "Too many requests, please try again later")
		return true
	}
	if ef.Rate5xx > 0 && rand.Float64() < ef.Rate5xx {
		st := ef.Status5xx
		if st == 0 {
			st = http.StatusServiceUnavailable
		}
		d := fault5xx[st]
		writeUnifiedError(w, st, reqID, d.code, d.title, d.details)
		return true
	}
	return false
}
