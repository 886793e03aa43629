package telegram

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
)

// secretHeader carries setWebhook's secret_token on every webhook request.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// ServeHTTP receives Telegram's webhook requests (forwarded by the core
// from /channels/<name>/webhook). The secret header is compared in
// constant time; a missing or wrong one gets 401 and nothing is delivered.
// The answer is 200 only once the core stored the event: any failure gets
// a 5xx, and Telegram retries the update later.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg, api, host := a.snapshot()
	if cfg == nil || cfg.polling {
		http.Error(w, "this channel does not receive webhooks (mode is polling)", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(secretHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(cfg.secret)) != 1 {
		a.log.Warn("telegram webhook refused: missing or wrong secret token", "remote_addr", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if host == nil {
		http.Error(w, "not started", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var u update
	if err := json.Unmarshal(body, &u); err != nil || u.UpdateID == 0 {
		a.log.Error("telegram webhook body is not an update", "err", err)
		http.Error(w, "body is not a Telegram update", http.StatusBadRequest)
		return
	}
	if err := a.handleUpdate(r.Context(), api, cfg, host, u); err != nil {
		a.log.Error("telegram update not accepted; Telegram will retry", "update_id", u.UpdateID, "err", err)
		http.Error(w, "not accepted, retry later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}
