package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// defaultAllowed is what an empty or never-set allowed_updates means: every
// type except chat_member, message_reaction and message_reaction_count.
func (e *Emulator) allowsLocked(kind string) bool {
	if len(e.allowed) == 0 {
		return kind != "chat_member" && kind != "message_reaction" && kind != "message_reaction_count"
	}
	return slices.Contains(e.allowed, kind)
}

// queueLocked assigns the next update_id and queues u for the bot, unless
// allowed_updates excludes its type. It reports the id (0 when dropped).
func (e *Emulator) queueLocked(u Update) int64 {
	if !e.allowsLocked(u.kind()) {
		return 0
	}
	u.UpdateID = e.nextUpdateID
	e.nextUpdateID++
	e.pending = append(e.pending, u)
	e.notifyLocked()
	select {
	case e.pushWake <- struct{}{}:
	default:
	}
	return u.UpdateID
}

// setAllowedLocked applies an allowed_updates parameter; absent keeps the
// previous setting.
func (e *Emulator) setAllowedLocked(p *params) *apiError {
	var list []string
	set, aerr := p.jsonValue("allowed_updates", &list)
	if aerr != nil {
		return aerr
	}
	if set {
		e.allowed = list
	}
	return nil
}

// PollConflicts counts getUpdates requests ended with 409 because a newer
// one came (two processes polling one bot).
func (e *Emulator) PollConflicts() int64 { return e.pollConflicts.Load() }

// poller is the one getUpdates request that may be waiting.
type poller struct{ terminated chan struct{} }

// getUpdates: offset confirms everything below it (a negative offset keeps
// the last -offset updates); limit 1-100; timeout capped at 50 s; 409 while
// a webhook is set, and 409 for the older of two concurrent requests.
func (e *Emulator) getUpdates(ctx context.Context, p *params) (any, string, *apiError) {
	offset, _, aerr := p.int("offset")
	if aerr != nil {
		return nil, "", aerr
	}
	limit, set, aerr := p.int("limit")
	if aerr != nil {
		return nil, "", aerr
	}
	if !set || limit > 100 {
		limit = 100
	}
	limit = max(limit, 1)
	timeout, _, aerr := p.int("timeout")
	if aerr != nil {
		return nil, "", aerr
	}
	timeout = min(max(timeout, 0), 50)

	e.mu.Lock()
	if e.webhook.URL != "" {
		e.mu.Unlock()
		return nil, "", errWebhookActive
	}
	if aerr := e.setAllowedLocked(p); aerr != nil {
		e.mu.Unlock()
		return nil, "", aerr
	}
	if e.poller != nil {
		close(e.poller.terminated)
	}
	me := &poller{terminated: make(chan struct{})}
	e.poller = me
	switch {
	case offset > 0:
		i := 0
		for i < len(e.pending) && e.pending[i].UpdateID < offset {
			i++
		}
		e.pending = e.pending[i:]
	case offset < 0:
		if keep := int(-offset); keep < len(e.pending) {
			e.pending = e.pending[len(e.pending)-keep:]
		}
	}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if e.poller == me {
			e.poller = nil
		}
		e.mu.Unlock()
	}()

	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		if e.webhook.URL != "" {
			e.mu.Unlock()
			return nil, "", errWebhookActive
		}
		n := min(int(limit), len(e.pending))
		out := make([]Update, n) // never nil: an empty result is []
		copy(out, e.pending)
		changed := e.changed
		e.mu.Unlock()
		if len(out) > 0 || timeout == 0 {
			return out, "", nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return []Update{}, "", nil
		case <-me.terminated:
			e.mu.Lock()
			hooked := e.webhook.URL != ""
			e.mu.Unlock()
			if hooked {
				return nil, "", errWebhookActive
			}
			e.pollConflicts.Add(1)
			return nil, "", errOtherGetUpdate
		case <-ctx.Done():
			return []Update{}, "", nil
		case <-e.done:
			return []Update{}, "", nil
		}
	}
}

// webhookState is the bot's webhook registration and delivery record.
type webhookState struct {
	URL              string
	SecretToken      string
	MaxConnections   int
	LastErrorDate    int64
	LastErrorMessage string
	Deliveries       int // successful deliveries
	Failures         int // failed attempts
}

var secretTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func (e *Emulator) setWebhook(_ context.Context, p *params) (any, string, *apiError) {
	raw := p.str("url")
	secret, hasSecret := p.values["secret_token"]
	if hasSecret && secret != "" && !secretTokenPattern.MatchString(secret) {
		return nil, "", badRequest("secret token contains unallowed characters") // UNCONFIRMED string
	}
	maxConns, set, aerr := p.int("max_connections")
	if aerr != nil {
		return nil, "", aerr
	}
	if !set {
		maxConns = 40
	}
	if raw != "" {
		// Real Telegram insists on HTTPS on ports 443/80/88/8443; the emulator
		// runs on loopback, so it also accepts plain http (see docs/emulator.md).
		if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
			return nil, "", badRequest("bad webhook: HTTPS url must be provided for webhook")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if !e.lastSetHook.IsZero() && now.Sub(e.lastSetHook) < e.scaled(time.Second) {
		return nil, "", tooManyRequests(1)
	}
	e.lastSetHook = now
	if aerr := e.setAllowedLocked(p); aerr != nil {
		return nil, "", aerr
	}
	if p.bool("drop_pending_updates") {
		e.pending = nil
	}
	if raw == "" {
		return e.removeWebhookLocked()
	}
	same := e.webhook.URL == raw && e.webhook.SecretToken == secret
	e.webhook.URL, e.webhook.SecretToken, e.webhook.MaxConnections = raw, secret, int(maxConns)
	if e.poller != nil {
		close(e.poller.terminated) // a waiting getUpdates now gets its 409 on the next look
		e.poller = nil
	}
	e.notifyLocked()
	select {
	case e.pushWake <- struct{}{}:
	default:
	}
	if same {
		return true, "Webhook is already set", nil
	}
	return true, "Webhook was set", nil
}

func (e *Emulator) removeWebhookLocked() (any, string, *apiError) {
	if e.webhook.URL == "" {
		return true, "Webhook is already deleted", nil
	}
	e.webhook = webhookState{}
	e.notifyLocked()
	return true, "Webhook was deleted", nil
}

func (e *Emulator) deleteWebhook(_ context.Context, p *params) (any, string, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.bool("drop_pending_updates") {
		e.pending = nil
	}
	return e.removeWebhookLocked()
}

func (e *Emulator) getWebhookInfo(context.Context, *params) (any, string, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.webhookInfoLocked(), "", nil
}

func (e *Emulator) webhookInfoLocked() WebhookInfo {
	info := WebhookInfo{URL: e.webhook.URL, PendingUpdateCount: len(e.pending), AllowedUpdates: slices.Clone(e.allowed)}
	if e.webhook.URL != "" {
		info.MaxConnections = e.webhook.MaxConnections
		info.LastErrorDate = e.webhook.LastErrorDate
		info.LastErrorMessage = e.webhook.LastErrorMessage
	}
	return info
}

// pushLoop delivers pending updates to the webhook one at a time, in
// update_id order (the emulator uses a single connection whatever
// max_connections says). A non-2xx answer or a transport error is retried:
// after the answer's Retry-After (capped at 3600 s) if given, otherwise
// after a delay that doubles from 1 s up to a random 60-120 s. All delays
// are multiplied by Options.TimeScale.
func (e *Emulator) pushLoop() {
	defer e.wg.Done()
	client := &http.Client{Timeout: e.opts.WebhookTimeout}
	backoff := time.Second
	for {
		e.mu.Lock()
		hook := e.webhook
		var next *Update
		if hook.URL != "" && len(e.pending) > 0 {
			u := e.pending[0]
			next = &u
		}
		e.mu.Unlock()
		if next == nil {
			select {
			case <-e.pushWake:
				continue
			case <-e.done:
				return
			}
		}
		delay, err := e.push(client, hook, *next)
		e.mu.Lock()
		if err == nil {
			if len(e.pending) > 0 && e.pending[0].UpdateID == next.UpdateID {
				e.pending = e.pending[1:]
			}
			e.webhook.Deliveries++
			e.notifyLocked()
			e.mu.Unlock()
			backoff = time.Second
			continue
		}
		if e.webhook.URL == hook.URL {
			e.webhook.Failures++
			e.webhook.LastErrorDate = time.Now().Unix()
			e.webhook.LastErrorMessage = err.Error()
		}
		e.notifyLocked()
		e.mu.Unlock()
		if delay == 0 {
			delay = backoff
			backoff *= 2
			if backoff > 60*time.Second {
				backoff = 60*time.Second + rand.N(60*time.Second)
			}
		}
		e.log.Debug("webhook delivery failed", "update_id", next.UpdateID, "err", err, "retry_in", delay)
		t := time.NewTimer(e.scaled(delay))
		select {
		case <-t.C:
		case <-e.done:
			t.Stop()
			return
		}
	}
}

// push POSTs one update as the Bot API server does and returns the
// Retry-After the endpoint asked for, if any.
func (e *Emulator) push(client *http.Client, hook webhookState, u Update) (time.Duration, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return 0, fmt.Errorf("marshal update: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("bad webhook url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	if hook.SecretToken != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", hook.SecretToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("connection failed: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var delay time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			delay = time.Duration(min(s, 3600)) * time.Second
		}
		return delay, fmt.Errorf("Wrong response from the webhook: %s", resp.Status)
	}
	e.replyMethod(reply)
	return 0, nil
}

// replyMethod executes a Bot API call carried in a webhook's 2xx reply body
// (JSON only). getX, setWebhook, deleteWebhook, close and logOut are
// ignored there, as the server does; results are never reported back.
func (e *Emulator) replyMethod(body []byte) {
	var raw map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &raw) != nil {
		return
	}
	var method string
	if json.Unmarshal(raw["method"], &method) != nil || method == "" {
		return
	}
	name := strings.ToLower(method)
	if strings.HasPrefix(name, "get") || name == "setwebhook" || name == "deletewebhook" || name == "close" || name == "logout" {
		return
	}
	fn, ok := e.methods()[name]
	if !ok {
		return
	}
	if _, _, aerr := fn(context.Background(), paramsFromJSON(raw)); aerr != nil {
		e.log.Debug("method in webhook reply failed", "method", method, "err", aerr.Description)
	}
}
