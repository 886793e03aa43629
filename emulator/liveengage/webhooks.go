package liveengage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Documented retry constants (§6.8); every interval is multiplied by
// Options.TimeScale.
const (
	countRetryInterval = 30 * time.Second
	ttlFirstBackoff    = 2 * time.Second
	ttlMaxBackoff      = 5 * time.Minute
	// reorderHold is how long a held-back event waits for a successor
	// before it is sent anyway (reorder fault).
	reorderHold = 20 * time.Millisecond
)

// App-install states in TTL mode (§6.8 B).
const (
	StateUp           = "UP"
	StateFailed       = "FAILED"
	StateInTransition = "IN TRANSITION"
	StateRecovered    = "RECOVERED"
)

// ---- envelopes (§6.2, §6.3) ----

type originatorMetadata struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

type messagingChange struct {
	Sequence           *int               `json:"sequence,omitempty"`
	OriginatorID       string             `json:"originatorId"`
	OriginatorMetadata originatorMetadata `json:"originatorMetadata"`
	ServerTimestamp    int64              `json:"serverTimestamp,omitempty"`
	Event              json.RawMessage    `json:"event"`
	ConversationID     string             `json:"conversationId"`
	DialogID           string             `json:"dialogId"`
	MessageAudience    string             `json:"messageAudience,omitempty"`
	Metadata           json.RawMessage    `json:"metadata,omitempty"`
}

type notificationEnvelope struct {
	Kind string `json:"kind"`
	Body any    `json:"body"`
	Type string `json:"type"`
}

type participant struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

type participantDetail struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	State string `json:"state"`
}

type dialogDetails struct {
	DialogID             string              `json:"dialogId"`
	ParticipantsDetails  []participantDetail `json:"participantsDetails"`
	DialogType           string              `json:"dialogType"`
	ChannelType          string              `json:"channelType"`
	State                string              `json:"state"`
	CreationTs           int64               `json:"creationTs"`
	EndTs                int64               `json:"endTs,omitempty"`
	MetaDataLastUpdateTs int64               `json:"metaDataLastUpdateTs"`
	ClosedBy             string              `json:"closedBy,omitempty"`
	ClosedCause          string              `json:"closedCause,omitempty"`
}

type ttrJSON struct {
	TTRType string `json:"ttrType"`
	Value   int64  `json:"value"`
}

type conversationDetails struct {
	SkillID                    string          `json:"skillId"`
	Participants               []participant   `json:"participants"`
	Dialogs                    []dialogDetails `json:"dialogs"`
	BrandID                    string          `json:"brandId"`
	State                      string          `json:"state"`
	Stage                      string          `json:"stage"`
	CloseReason                string          `json:"closeReason,omitempty"`
	StartTs                    int64           `json:"startTs"`
	EndTs                      int64           `json:"endTs,omitempty"`
	MetaDataLastUpdateTs       int64           `json:"metaDataLastUpdateTs"`
	TTR                        ttrJSON         `json:"ttr"`
	CSAT                       *CSAT           `json:"csat,omitempty"`
	ConversationHandlerDetails struct {
		AccountID string `json:"accountId"`
		SkillID   string `json:"skillId"`
	} `json:"conversationHandlerDetails"`
}

type exChange struct {
	Type   string `json:"type"`
	Result struct {
		ConvID              string              `json:"convId"`
		EffectiveTTR        int64               `json:"effectiveTTR"`
		ConversationDetails conversationDetails `json:"conversationDetails"`
	} `json:"result"`
}

// ttrSeconds maps ttrDefName to the ttr value. UNCONFIRMED: only NORMAL 3600
// (NAS) and PRIORITIZED 600 (webhook samples) are seen in sources.
func ttrSeconds(name string) int64 {
	switch name {
	case "PRIORITIZED":
		return 600
	case "URGENT":
		return 300
	}
	return 3600
}

// emitConversationLocked queues a cqm.ExConversationChangeNotification with
// the complete conversation state. Caller holds c.mu.
func (e *Emulator) emitConversationLocked(c *conv) {
	if !e.hooks.active() && !e.hub.active() {
		return
	}
	var ch exChange
	ch.Type = "UPSERT"
	ch.Result.ConvID = c.id
	ttr := ttrSeconds(c.ttrDefName)
	ch.Result.EffectiveTTR = c.startTs + ttr*1000
	if c.state == "CLOSE" {
		ch.Result.EffectiveTTR = -1 // as in LivePerson's examples of closed conversations
	}
	d := &ch.Result.ConversationDetails
	d.SkillID = c.skillID
	d.Participants = []participant{{c.participantID, RoleConsumer}}
	if c.agentID != "" {
		d.Participants = append(d.Participants, participant{c.agentID, RoleAssignedAgent})
	}
	for _, dl := range c.dialogs {
		dd := dialogDetails{
			DialogID: dl.DialogID, DialogType: dl.DialogType, ChannelType: "MESSAGING", State: dl.State,
			CreationTs: dl.CreationTs, EndTs: dl.EndTs, MetaDataLastUpdateTs: dl.metaTs, ClosedBy: dl.ClosedBy,
			ClosedCause: dl.ClosedCause,
		}
		dd.ParticipantsDetails = []participantDetail{{c.participantID, RoleConsumer, "ACTIVE"}}
		if c.agentID != "" && dl.DialogType == "MAIN" {
			dd.ParticipantsDetails = append(dd.ParticipantsDetails, participantDetail{c.agentID, RoleAssignedAgent, "ACTIVE"})
		}
		d.Dialogs = append(d.Dialogs, dd)
	}
	d.BrandID = e.opts.AccountID
	d.State = c.state
	d.Stage = c.state
	d.CloseReason = c.closeReason
	d.StartTs = c.startTs
	d.EndTs = c.endTs
	d.MetaDataLastUpdateTs = c.metaTs
	d.TTR = ttrJSON{c.ttrDefName, ttr}
	d.CSAT = c.csat
	d.ConversationHandlerDetails.AccountID = e.opts.AccountID
	d.ConversationHandlerDetails.SkillID = c.skillID
	body, _ := json.Marshal(notificationEnvelope{
		Kind: "notification",
		Body: struct {
			SubscriptionID string     `json:"subscriptionId"`
			Changes        []exChange `json:"changes"`
		}{e.subscriptionID, []exChange{ch}},
		Type: "cqm.ExConversationChangeNotification",
	})
	e.queueNotification(c, NotificationExConversation, body)
}

// emitMessagingLocked queues an ms.MessagingEventNotification. Consumer
// events are delivered too, as on the real service (§6.3).
func (e *Emulator) emitMessagingLocked(c *conv, eventType string, rec EventRecord) {
	if !e.hooks.active() && !e.hub.active() {
		return
	}
	ch := messagingChange{
		Sequence:           rec.Sequence,
		OriginatorID:       rec.OriginatorID,
		OriginatorMetadata: originatorMetadata{rec.OriginatorID, rec.Role},
		ServerTimestamp:    rec.ServerTimestamp,
		Event:              rec.Event,
		ConversationID:     c.id,
		DialogID:           rec.DialogID,
		Metadata:           rec.Metadata,
	}
	key := NotificationContentEvent
	switch eventType {
	case "ContentEvent":
		ch.MessageAudience = "ALL"
	case "RichContentEvent":
		ch.MessageAudience = "ALL"
		key = NotificationRichContentEvent
	case "AcceptStatusEvent":
		key = NotificationAcceptStatusEvent
	case "ChatStateEvent":
		key = NotificationChatStateEvent
	}
	body, _ := json.Marshal(notificationEnvelope{
		Kind: "notification",
		Body: struct {
			Changes []messagingChange `json:"changes"`
		}{[]messagingChange{ch}},
		Type: "ms.MessagingEventNotification",
	})
	e.queueNotification(c, key, body)
}

func (e *Emulator) queueNotification(c *conv, key string, body []byte) {
	e.hub.publish(LiveEvent{Type: "notification", ConversationID: c.id, Data: body})
	if e.hooks.active() {
		e.hooks.enqueue(&notification{convID: c.id, key: key, body: body, created: time.Now(), lane: c.lane})
	}
}

// ---- delivery ----

type notification struct {
	convID   string
	key      string
	body     []byte
	created  time.Time
	lane     int
	attempts int
}

type endpoint struct {
	url        string
	maxRetries int
	explicit0  bool // max_retries explicitly 0 (TTL-mode exemption, §6.8)
	headers    []Header
}

// Delivery is one webhook POST attempt, as reported by WebhookStatus and
// the SSE stream.
type Delivery struct {
	ConversationID string `json:"conversationId"`
	Type           string `json:"type"`
	URL            string `json:"url"`
	Attempt        int    `json:"attempt"`
	Status         int    `json:"status"` // 0 = transport error or timeout
	OK             bool   `json:"ok"`
	Error          string `json:"error,omitempty"`
	Time           int64  `json:"time"`
}

// WebhookStatus summarises webhook delivery.
type WebhookStatus struct {
	Mode       string     `json:"mode"` // "count" or "ttl"
	State      string     `json:"state"`
	Stored     int        `json:"stored"`
	Queued     int        `json:"queued"`
	Delivered  int64      `json:"delivered"`
	Failed     int64      `json:"failedAttempts"`
	Dropped    int64      `json:"dropped"`
	Duplicated int64      `json:"duplicated"`
	Reordered  int64      `json:"reordered"`
	Recent     []Delivery `json:"recent"`
}

type lane struct {
	mu     sync.Mutex
	q      []*notification
	signal chan struct{}
}

type dispatcher struct {
	e         *Emulator
	client    *http.Client
	endpoints map[string]endpoint
	enabled   bool
	ttl       bool
	retention time.Duration
	lanes     []*lane
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	// TTL-mode state, guarded by mu.
	mu         sync.Mutex
	state      string
	store      map[string][]*notification
	storeOrder []string
	wake       chan struct{}

	delivered, failed, dropped, duplicated, reordered atomic.Int64

	recentMu sync.Mutex
	recent   []Delivery
}

const recentDeliveries = 200

func newDispatcher(e *Emulator) *dispatcher {
	o := e.opts
	d := &dispatcher{
		e:         e,
		endpoints: map[string]endpoint{},
		ttl:       o.RetentionTime > 0,
		retention: o.RetentionTime,
		state:     StateUp,
		store:     map[string][]*notification{},
		wake:      make(chan struct{}, 1),
	}
	for _, k := range NotificationTypes {
		ep := endpoint{url: o.WebhookURL, maxRetries: o.MaxRetries, headers: o.WebhookHeaders}
		if w, ok := o.Webhooks[k]; ok {
			if w.URL != "" {
				ep.url = w.URL
			}
			if w.MaxRetries != nil {
				ep.maxRetries = *w.MaxRetries
				ep.explicit0 = *w.MaxRetries == 0
			}
			if w.Headers != nil {
				ep.headers = w.Headers
			}
		}
		if ep.url != "" {
			d.enabled = true
			d.endpoints[k] = ep
		}
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if !d.enabled {
		return d
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: o.WebhookTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          4 * o.WebhookWorkers,
		MaxIdleConnsPerHost:   4 * o.WebhookWorkers,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: o.WebhookTimeout,
		ForceAttemptHTTP2:     true,
	}
	d.client = &http.Client{Transport: tr, Timeout: 2 * o.WebhookTimeout}
	d.lanes = make([]*lane, o.WebhookWorkers)
	for i := range d.lanes {
		d.lanes[i] = &lane{signal: make(chan struct{}, 1)}
		d.wg.Add(1)
		go d.runLane(d.lanes[i])
	}
	if d.ttl {
		d.wg.Add(1)
		go d.runStore()
	}
	return d
}

func (d *dispatcher) active() bool { return d.enabled }

func laneFor(convID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(convID))
	return int(h.Sum32() % uint32(n))
}

func (d *dispatcher) close() {
	d.cancel()
	d.wg.Wait()
	if d.client != nil {
		d.client.CloseIdleConnections()
	}
}

// enqueue appends to the conversation's lane; lanes are unbounded so a slow
// receiver never blocks the Send API.
func (d *dispatcher) enqueue(n *notification) {
	l := d.lanes[n.lane%len(d.lanes)]
	l.mu.Lock()
	l.q = append(l.q, n)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

func (l *lane) pop() *notification {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.q) == 0 {
		return nil
	}
	n := l.q[0]
	l.q[0] = nil
	l.q = l.q[1:]
	if len(l.q) == 0 {
		l.q = nil
	}
	return n
}

// runLane delivers one lane's notifications in order, applying the
// drop / duplicate / reorder faults.
func (d *dispatcher) runLane(l *lane) {
	defer d.wg.Done()
	var held *notification
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		n := l.pop()
		if n == nil {
			if held != nil {
				timer.Reset(reorderHold)
			}
			select {
			case <-d.ctx.Done():
				return
			case <-l.signal:
				continue
			case <-timer.C:
				h := held
				held = nil
				d.route(h)
				continue
			}
		}
		wf := d.e.faults.Load().Webhooks
		if wf.DropRate > 0 && rand.Float64() < wf.DropRate {
			d.dropped.Add(1)
			continue
		}
		if held == nil && wf.ReorderRate > 0 && rand.Float64() < wf.ReorderRate {
			held = n
			d.reordered.Add(1)
			continue
		}
		d.route(n)
		if wf.DuplicateRate > 0 && rand.Float64() < wf.DuplicateRate {
			d.duplicated.Add(1)
			dup := *n
			dup.attempts = 0
			d.route(&dup)
		}
		if held != nil {
			h := held
			held = nil
			timer.Stop()
			d.route(h)
		}
	}
}

// route sends a fresh notification according to the retry mode.
func (d *dispatcher) route(n *notification) {
	ep, ok := d.endpoints[n.key]
	if !ok {
		return
	}
	if !d.ttl {
		if d.attempt(n, ep) {
			return
		}
		d.retryCount(n, ep)
		return
	}
	d.mu.Lock()
	if d.state == StateFailed || len(d.store[n.convID]) > 0 {
		d.storeLocked(n)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	if d.attempt(n, ep) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ep.explicit0 && d.state != StateFailed {
		// max_retries 0 with a retention time: this webhook's failure does
		// not fail the app, and its event is dropped (§6.8).
		d.dropped.Add(1)
		return
	}
	d.failLocked()
	// The conversation had nothing stored (checked above, and this lane is
	// the only producer for it), so this lands at the head of its queue.
	d.storeLocked(n)
}

// retryCount implements count mode: each event is retried on its own, 30 s
// apart, up to max_retries times, then dropped.
func (d *dispatcher) retryCount(n *notification, ep endpoint) {
	if n.attempts > ep.maxRetries {
		d.dropped.Add(1)
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTimer(d.e.scaled(countRetryInterval))
		defer t.Stop()
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		if !d.attempt(n, ep) {
			d.retryCount(n, ep)
		}
	}()
}

func (d *dispatcher) storeLocked(n *notification) {
	if _, ok := d.store[n.convID]; !ok {
		d.storeOrder = append(d.storeOrder, n.convID)
	}
	d.store[n.convID] = append(d.store[n.convID], n)
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) failLocked() {
	if d.state != StateFailed {
		d.e.log.Warn("webhooks: app install FAILED, storing events")
	}
	d.state = StateFailed
}

// runStore replays stored events in TTL mode with exponential backoff
// (2, 4, 8 … s, capped at 5 min), conversation by conversation, in order.
func (d *dispatcher) runStore() {
	defer d.wg.Done()
	backoff := ttlFirstBackoff
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			empty := len(d.storeOrder) == 0
			d.mu.Unlock()
			if empty {
				break
			}
			t := time.NewTimer(d.e.scaled(backoff))
			select {
			case <-d.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if d.drain() {
				backoff = ttlFirstBackoff
				continue
			}
			backoff *= 2
			if backoff > ttlMaxBackoff {
				backoff = ttlMaxBackoff
			}
		}
	}
}

// drain resends the store; false when a delivery failed again.
func (d *dispatcher) drain() bool {
	d.mu.Lock()
	d.state = StateInTransition
	d.mu.Unlock()
	for {
		d.mu.Lock()
		if len(d.storeOrder) == 0 {
			d.state = StateRecovered
			// The drain period of RECOVERED is not modelled: the app goes
			// straight back to UP.
			d.state = StateUp
			d.mu.Unlock()
			return true
		}
		conv := d.storeOrder[0]
		q := d.store[conv]
		n := q[0]
		d.mu.Unlock()

		if d.retention > 0 && time.Since(n.created) > d.retention {
			d.dropped.Add(1)
		} else if ep, ok := d.endpoints[n.key]; ok && !d.attempt(n, ep) {
			d.mu.Lock()
			d.failLocked()
			d.mu.Unlock()
			return false
		}
		d.mu.Lock()
		q = d.store[conv]
		q[0] = nil
		q = q[1:]
		if len(q) == 0 {
			delete(d.store, conv)
			d.storeOrder = d.storeOrder[1:]
		} else {
			d.store[conv] = q
		}
		d.mu.Unlock()
	}
}

// attempt POSTs once and reports success (200 or 201 only, §6.6).
func (d *dispatcher) attempt(n *notification, ep endpoint) bool {
	n.attempts++
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, ep.url, bytes.NewReader(n.body))
	if err != nil {
		d.record(n, ep, 0, err)
		return false
	}
	// Direct map writes keep the documented lower-case spelling on the
	// wire (and a custom header's own spelling); receivers match headers
	// case-insensitively either way.
	h := req.Header
	h["Content-Type"] = jsonContentType
	h["x-liveperson-account-id"] = []string{d.e.opts.AccountID}
	h["x-liveperson-client-id"] = []string{d.e.opts.ClientID}
	h["x-liveperson-signature"] = []string{d.e.signature(n.body)}
	for _, ch := range ep.headers {
		h[ch.Name] = []string{ch.Value}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.record(n, ep, 0, err)
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	d.record(n, ep, resp.StatusCode, nil)
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated
}

func (d *dispatcher) record(n *notification, ep endpoint, status int, err error) {
	ok := err == nil && (status == http.StatusOK || status == http.StatusCreated)
	if ok {
		d.delivered.Add(1)
	} else {
		d.failed.Add(1)
	}
	del := Delivery{ConversationID: n.convID, Type: n.key, URL: ep.url, Attempt: n.attempts, Status: status, OK: ok, Time: nowMs()}
	if err != nil {
		del.Error = err.Error()
		d.e.log.Debug("webhook delivery failed", "conversation_id", n.convID, "type", n.key, "err", err)
	}
	d.recentMu.Lock()
	if len(d.recent) >= recentDeliveries {
		copy(d.recent, d.recent[1:])
		d.recent = d.recent[:recentDeliveries-1]
	}
	d.recent = append(d.recent, del)
	d.recentMu.Unlock()
	if d.e.hub.active() {
		b, _ := json.Marshal(del)
		d.e.hub.publish(LiveEvent{Type: "delivery", ConversationID: n.convID, Data: b})
	}
}

// signature computes x-liveperson-signature over the raw body (§6.5).
func (e *Emulator) signature(body []byte) string {
	var newHash func() hash.Hash = sha1.New
	prefix := "sha1="
	if e.opts.SignatureAlgorithm == "sha256" {
		newHash, prefix = sha256.New, "sha256="
	}
	m := hmac.New(newHash, []byte(e.opts.ClientSecret))
	m.Write(body)
	sum := m.Sum(nil)
	if e.opts.SignatureEncoding == "hex" {
		return prefix + hex.EncodeToString(sum)
	}
	return prefix + base64.StdEncoding.EncodeToString(sum)
}

// WebhookStatus reports the delivery mode, TTL state and counters.
func (e *Emulator) WebhookStatus() WebhookStatus {
	d := e.hooks
	st := WebhookStatus{Mode: "count", State: StateUp}
	if d.ttl {
		st.Mode = "ttl"
	}
	d.mu.Lock()
	st.State = d.state
	for _, q := range d.store {
		st.Stored += len(q)
	}
	d.mu.Unlock()
	for _, l := range d.lanes {
		l.mu.Lock()
		st.Queued += len(l.q)
		l.mu.Unlock()
	}
	st.Delivered = d.delivered.Load()
	st.Failed = d.failed.Load()
	st.Dropped = d.dropped.Load()
	st.Duplicated = d.duplicated.Load()
	st.Reordered = d.reordered.Load()
	d.recentMu.Lock()
	st.Recent = append([]Delivery{}, d.recent...)
	d.recentMu.Unlock()
	return st
}
