package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// maxRequestBytes bounds one Events API or interactivity request.
const maxRequestBytes = 4 << 20

// ServeHTTP receives Slack's Events API and interactivity requests
// (forwarded by the core from /channels/<name>/webhook; the app's Request
// URL and Interactivity URL both point there).
//
//   - ssl_check=1 form posts are answered 200 without a signature, as
//     Slack's SDKs do (§2.1; UNCONFIRMED in Slack's docs).
//   - Everything else must carry a valid v0 signature no older than five
//     minutes, or gets 401 and nothing is delivered.
//   - url_verification is answered with the challenge as JSON.
//   - event_callback and block_actions are delivered, and answered 200 only
//     once the core stored them, within ack_budget (Slack's 3 s deadline);
//     a failure gets 503 and Slack retries. Retries (X-Slack-Retry-Num) are
//     processed like first attempts: the core drops an event id it already
//     has, and the adapter skips one it delivered itself.
//   - Payloads that can never be processed get 400 with x-slack-no-retry.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg, _, _, _ := a.snapshot()
	if cfg == nil || cfg.socket {
		http.Error(w, "this channel receives Slack events over Socket Mode", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var form url.Values
	if ct == "application/x-www-form-urlencoded" {
		form, _ = url.ParseQuery(string(body))
		if form.Get("ssl_check") == "1" {
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	if err := verify(r.Header, body, cfg.signingSecret, time.Now()); err != nil {
		a.log.Warn("slack request refused", "why", err.Error(), "remote_addr", r.RemoteAddr)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), cfg.ackBudget)
	defer cancel()
	retry := r.Header.Get("X-Slack-Retry-Num")
	if form != nil {
		err = a.handleInteraction(ctx, []byte(form.Get("payload")))
	} else {
		var probe struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
		}
		if jerr := json.Unmarshal(body, &probe); jerr != nil {
			err = errMalformed
		} else if probe.Type == "url_verification" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"challenge": probe.Challenge})
			return
		} else {
			err = a.handleCallback(ctx, body)
		}
	}
	switch {
	case errors.Is(err, errMalformed):
		a.log.Error("slack request body cannot be processed; dropped", "err", err)
		w.Header().Set("X-Slack-No-Retry", "1")
		http.Error(w, "malformed payload", http.StatusBadRequest)
	case err != nil:
		a.log.Error("slack event not accepted; Slack will retry", "retry_num", retry, "err", err)
		http.Error(w, "not accepted, retry later", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
	}
}
