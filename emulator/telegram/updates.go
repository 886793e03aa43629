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
	e.compactLocked()
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
		clear(e.pushes.delivered)
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
		clear(e.pushes.delivered)
	}
	return e.removeWebhookLocked()
}

func (e *Emulator) getWebhookInfo(context.Context, *params) (any, string, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.webhookInfoLocked(), "", nil
}

func (e *Emulator) webhookInfoLocked() WebhookInfo {
	info := WebhookInfo{URL: e.webhook.URL, PendingUpdateCount: len(e.pending) - len(e.pushes.delivered), AllowedUpdates: slices.Clone(e.allowed)}
	if e.webhook.URL != "" {
		info.MaxConnections = e.webhook.MaxConnections
		info.LastErrorDate = e.webhook.LastErrorDate
		info.LastErrorMessage = e.webhook.LastErrorMessage
	}
	return info
}

// pushLoop delivers pending updates to the webhook as the Bot API server
// does (WebhookActor): in parallel over up to max_connections connections,
// one update at a time per queue (a chat's messages, a user's callback
// queries: see webhookQueue), in update_id order within a queue. A non-2xx
// answer or a transport error delays only that queue: after the answer's
// Retry-After (capped at 3600 s) if given, otherwise after a delay that
// doubles per update from 1 s up to a random 60-120 s. All delays are
// multiplied by Options.TimeScale.
func (e *Emulator) pushLoop() {
	defer e.wg.Done()
	client := &http.Client{Timeout: e.opts.WebhookTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	for {
		e.mu.Lock()
		hook := e.webhook
		start, wake := e.nextPushesLocked(hook, time.Now())
		e.mu.Unlock()
		for _, u := range start {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.deliver(client, hook, u)
			}()
		}
		var timer *time.Timer
		var due <-chan time.Time
		if !wake.IsZero() {
			timer = time.NewTimer(time.Until(wake))
			due = timer.C
		}
		select {
		case <-e.pushWake:
		case <-due:
		case <-e.done:
			return
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// pushState is what webhook delivery tracks between updates.
type pushState struct {
	inFlight map[string]bool      // queues with an update on the wire
	wakeAt   map[string]time.Time // queues delayed after a failed delivery
	delay    map[int64]time.Duration
	// delivered holds updates delivered out of update_id order (another
	// chat's earlier one is still pending): they stay in e.pending until
	// everything before them is delivered, so a delivery costs no copy.
	delivered map[int64]bool
}

// dropDeliveredLocked pops delivered updates off the front of e.pending.
func (e *Emulator) dropDeliveredLocked() {
	for len(e.pending) > 0 && e.pushes.delivered[e.pending[0].UpdateID] {
		delete(e.pushes.delivered, e.pending[0].UpdateID)
		e.pending = e.pending[1:]
	}
}

// compactLocked removes every delivered update from e.pending (before it
// is read as a whole).
func (e *Emulator) compactLocked() {
	if len(e.pushes.delivered) == 0 {
		return
	}
	e.pending = slices.DeleteFunc(e.pending, func(u Update) bool { return e.pushes.delivered[u.UpdateID] })
	clear(e.pushes.delivered)
}

// nextPushesLocked picks the updates to send now: the first pending update
// of each queue that has none on the wire and is not delayed, up to the
// webhook's max_connections in flight. wake is when a delayed queue is due
// (zero if none). Callers hold e.mu.
func (e *Emulator) nextPushesLocked(hook webhookState, now time.Time) (start []Update, wake time.Time) {
	if hook.URL == "" {
		return nil, time.Time{}
	}
	conns := max(hook.MaxConnections, 1)
	busy := len(e.pushes.inFlight)
	seen := map[string]bool{}
	for _, u := range e.pending {
		// The server loads updates until it holds twice max_connections
		// queues (WebhookActor max_loaded_updates_); later ones wait.
		if busy >= conns || len(seen) >= 2*conns {
			break
		}
		if e.pushes.delivered[u.UpdateID] {
			continue
		}
		q := webhookQueue(u)
		if seen[q] {
			continue // only a queue's first update may go
		}
		seen[q] = true
		if e.pushes.inFlight[q] {
			continue
		}
		if at, delayed := e.pushes.wakeAt[q]; delayed && at.After(now) {
			if wake.IsZero() || at.Before(wake) {
				wake = at
			}
			continue
		}
		e.pushes.inFlight[q] = true
		busy++
		start = append(start, u)
	}
	return start, wake
}

// deliver POSTs one update and records the outcome.
func (e *Emulator) deliver(client *http.Client, hook webhookState, u Update) {
	retryAfter, err := e.push(client, hook, u)
	q := webhookQueue(u)
	e.mu.Lock()
	delete(e.pushes.inFlight, q)
	if err == nil {
		delete(e.pushes.wakeAt, q)
		delete(e.pushes.delay, u.UpdateID)
		// Still pending unless dropped meanwhile (drops take a prefix, or all).
		if len(e.pending) > 0 && u.UpdateID >= e.pending[0].UpdateID {
			e.pushes.delivered[u.UpdateID] = true
			e.dropDeliveredLocked()
		}
		e.webhook.Deliveries++
	} else {
		if e.webhook.URL == hook.URL {
			e.webhook.Failures++
			e.webhook.LastErrorDate = time.Now().Unix()
			e.webhook.LastErrorMessage = err.Error()
		}
		delay := retryAfter
		if delay == 0 {
			delay = e.pushes.delay[u.UpdateID]
			switch {
			case delay == 0:
				delay = time.Second
			case delay >= 60*time.Second:
				delay = 60*time.Second + rand.N(60*time.Second)
			default:
				delay = min(2*delay, 60*time.Second)
			}
			e.pushes.delay[u.UpdateID] = delay
		}
		e.pushes.wakeAt[q] = time.Now().Add(e.scaled(delay))
		e.log.Debug("webhook delivery failed", "update_id", u.UpdateID, "err", err, "retry_in", delay)
	}
	e.notifyLocked()
	e.mu.Unlock()
	select {
	case e.pushWake <- struct{}{}:
	default:
	}
}

// webhookQueue is the queue an update is delivered in, as the Bot API
// server assigns them (Client.cpp, webhook_queue_id): a chat's messages in
// one, a user's callback queries in another, chat member changes by chat.
func webhookQueue(u Update) string {
	switch {
	case u.Message != nil:
		return "chat:" + strconv.FormatInt(u.Message.Chat.ID, 10)
	case u.EditedMessage != nil:
		return "chat:" + strconv.FormatInt(u.EditedMessage.Chat.ID, 10)
	case u.CallbackQuery != nil:
		return "callback:" + strconv.FormatInt(u.CallbackQuery.From.ID, 10)
	case u.MyChatMember != nil:
		return "member:" + strconv.FormatInt(u.MyChatMember.Chat.ID, 10)
	}
	return "update:" + strconv.FormatInt(u.UpdateID, 10)
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
