package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// queuedChange is one change of a notification on its way to the queue,
// with its parse (nil for a change that could not be parsed) handed to the
// worker that takes it (see handoff).
type queuedChange struct {
	msg    store.Message
	parsed *liveperson.Notification
}

// outboundMessages splits a verified notification into one queue message per
// change: keyed by conversation (order), deduplicated by conversation +
// sequence for messaging events and by conversation + update time for
// conversation changes (LiveEngage retries and duplicates deliveries). A
// change it cannot parse, or a body that is no notification at all, is
// queued too, to be dead-lettered with the reason and the raw change for an
// operator: LiveEngage is answered 200 either way, since anything else
// would make its retry policy hold every conversation's events. unparsed
// counts those.
func outboundMessages(body []byte) (changes []queuedChange, unparsed int, err error) {
	if n, perr := liveperson.ParseNotification(body); perr == nil {
		return changeMessages(n) // the common case: the body is parsed once
	}
	// Some change, or the body itself, cannot be parsed: take the changes
	// one by one and keep apart what cannot.
	var env struct {
		Kind string `json:"kind"`
		Type string `json:"type"`
		Body struct {
			Changes []json.RawMessage `json:"changes"`
		} `json:"body"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Body.Changes) == 0 {
		m, err := unparsedMessage(body)
		return []queuedChange{{msg: m}}, 1, err
	}
	for _, raw := range env.Body.Changes {
		wrapped := wrapChange(env.Kind, env.Type, raw)
		n, perr := liveperson.ParseNotification(wrapped)
		if perr != nil {
			m, err := unparsedMessage(wrapped)
			if err != nil {
				return nil, 0, err
			}
			changes, unparsed = append(changes, queuedChange{msg: m}), unparsed+1
			continue
		}
		cs, u, err := changeMessages(n)
		if err != nil {
			return nil, 0, err
		}
		changes, unparsed = append(changes, cs...), unparsed+u
	}
	return changes, unparsed, nil
}

// wrapChange is a notification of one change, as the queue keeps it. raw
// is valid JSON (it was decoded from a body already), so it is copied in
// as it is.
func wrapChange(kind, typ string, raw json.RawMessage) []byte {
	b := make([]byte, 0, len(raw)+len(kind)+len(typ)+48)
	b = append(appendJSONString(append(b, `{"kind":`...), kind), `,"type":`...)
	b = append(appendJSONString(b, typ), `,"body":{"changes":[`...)
	return append(append(b, raw...), "]}}"...)
}

// appendJSONString appends s as a JSON string, as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// encodeOutboundPayload is json.Marshal(outboundPayload{...}) without a
// second pass over body, which is valid JSON already: it is kept byte for
// byte, so the worker reading it parses exactly what the webhook did.
func encodeOutboundPayload(conv string, seq *int, body []byte) []byte {
	b := make([]byte, 0, len(body)+len(conv)+64)
	b = append(strconv.AppendInt(append(b, `{"v":`...), payloadVersion, 10), `,"conversation_id":`...)
	b = appendJSONString(b, conv)
	if seq != nil {
		b = strconv.AppendInt(append(b, `,"sequence":`...), int64(*seq), 10)
	}
	return append(append(append(b, `,"body":`...), body...), '}')
}

// changeMessages queues each change of a parsed notification; a change
// without a conversation id is queued as unparsed.
func changeMessages(n *liveperson.Notification) (changes []queuedChange, unparsed int, err error) {
	add := func(conv, dedupe string, seq *int, raw json.RawMessage, one *liveperson.Notification) error {
		wrapped := wrapChange(n.Kind, n.Type, raw)
		if conv == "" {
			m, err := unparsedMessage(wrapped)
			changes, unparsed = append(changes, queuedChange{msg: m}), unparsed+1
			return err
		}
		payload := encodeOutboundPayload(conv, seq, wrapped)
		var order *int64
		if seq != nil {
			o := int64(*seq)
			order = &o
		}
		changes = append(changes, queuedChange{msg: store.Message{Key: conv, DedupeKey: dedupe, Sequence: order, Payload: payload}, parsed: one})
		return nil
	}
	for _, m := range n.Messaging {
		conv, dedupe := m.ConversationOrDialogID(), ""
		if m.Sequence != nil { // chat states carry none; repeating one is harmless
			dedupe = "m\x00" + conv + "\x00" + strconv.Itoa(*m.Sequence)
		}
		one := &liveperson.Notification{Kind: n.Kind, Type: n.Type, Messaging: []liveperson.MessagingChange{m}}
		if err := add(conv, dedupe, m.Sequence, m.Raw, one); err != nil {
			return nil, 0, err
		}
	}
	for _, c := range n.Conversations {
		dedupe := "c\x00" + c.ConversationID + "\x00" + c.Details.State + "\x00" + strconv.FormatInt(c.Details.MetaDataLastUpdateTs, 10)
		one := &liveperson.Notification{Kind: n.Kind, Type: n.Type, Conversations: []liveperson.ConversationChange{c}}
		if err := add(c.ConversationID, dedupe, nil, c.Raw, one); err != nil {
			return nil, 0, err
		}
	}
	return changes, unparsed, nil
}

// unparsedKey queues changes leconnect cannot act on, apart from every
// conversation, on their way to the dead-letter list.
const unparsedKey = "unparsed-notification"

// unparsedMessage queues raw (a change, or a whole body) to be
// dead-lettered by handleOutbound, which cannot parse it either.
func unparsedMessage(raw []byte) (store.Message, error) {
	body := json.RawMessage(raw)
	if !json.Valid(raw) {
		quoted, err := json.Marshal(string(raw)) // kept as a JSON string
		if err != nil {
			return store.Message{}, err
		}
		body = quoted
	}
	payload, err := json.Marshal(outboundPayload{V: payloadVersion, ConversationID: unparsedKey, Body: body})
	if err != nil {
		return store.Message{}, err
	}
	sum := sha256.Sum256(raw)
	return store.Message{Key: unparsedKey, DedupeKey: "u\x00" + base64.RawURLEncoding.EncodeToString(sum[:18]), Payload: payload}, nil
}

// pickOutbound chooses a conversation's next agent event: the lowest
// LiveEngage sequence among those buffered, so that deliveries LiveEngage
// reordered are put back in order. When the next sequence is missing it
// waits (up to ReorderWait from the item's arrival, this process's start or
// notBefore, whichever is latest) for it to show up.
func (e *Engine) pickOutbound(items []store.Item, notBefore time.Time) (int, time.Duration) {
	best, bestSeq := 0, -1
	for i, it := range items {
		seq, ok := itemSequence(it)
		if !ok {
			if i == 0 {
				return 0, 0 // unsequenced events (chat states, conversation changes) go in arrival order
			}
			continue // a late sequenced event may sit behind one
		}
		if bestSeq < 0 || seq < bestSeq {
			best, bestSeq = i, seq
		}
	}
	if bestSeq < 0 {
		return 0, 0
	}
	last, known := e.lastDelivered(items[best].Key)
	if known && bestSeq > last+1 {
		last = e.skipEchoes(items[best].Key, last)
	}
	// A gap after the last sequence delivered, or no knowledge of it (after a
	// restart): give a late delivery the chance to fill the gap. Deliveries
	// LiveEngage could not make while we were down come back only once we
	// are up again, so the wait counts from then at the earliest; after a
	// takeover, from then (notBefore).
	if !known || bestSeq > last+1 {
		since := items[best].EnqueuedAt
		if since.Before(e.started) {
			since = e.started
		}
		if since.Before(notBefore) {
			since = notBefore
		}
		if wait := time.Until(since.Add(e.opts.ReorderWait)); wait > 0 {
			return best, wait
		}
	}
	return best, 0
}

// lastDelivered is the last sequence handled in a conversation: from memory,
// or after a restart from the store (recorded with each ack).
func (e *Engine) lastDelivered(conversationID string) (int, bool) {
	e.seqMu.Lock()
	last, known := e.lastSeq[conversationID]
	e.seqMu.Unlock()
	if known {
		return last, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	seq, found, err := e.opts.Store.LastHandled(ctx, conversationID)
	if err != nil || !found {
		return 0, false
	}
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	if cur, ok := e.lastSeq[conversationID]; ok {
		return cur, true
	}
	e.lastSeq[conversationID] = int(seq)
	return int(seq), true
}

// skipEchoes moves a conversation's last delivered sequence past the
// consumer events we published right after it: the webhook recorded their
// echoes instead of queueing them, so they leave a gap no agent event will
// fill.
func (e *Engine) skipEchoes(conversationID string, last int) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	through, err := e.opts.Store.EchoedThrough(ctx, conversationID, int64(last))
	if err != nil || int(through) == last {
		return last // no echo there (or no answer): wait for the gap as before
	}
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	if cur, ok := e.lastSeq[conversationID]; ok && cur > int(through) {
		return cur
	}
	e.lastSeq[conversationID] = int(through)
	return int(through)
}

// itemSequence is a queued messaging event's LiveEngage sequence, kept as
// its own item field: pick runs over every buffered item of a
// conversation, so it must not parse payloads.
func itemSequence(it store.Item) (int, bool) {
	if it.Sequence == nil {
		return 0, false
	}
	return int(*it.Sequence), true
}

// handleOutbound delivers one LiveEngage change to the consumer's channel.
func (e *Engine) handleOutbound(ctx context.Context, _ store.Lease, item store.Item, _ int) result {
	p, n, err := e.outboundChange(item)
	if err != nil {
		return deadLetter(err)
	}
	if echoes := ourEchoes(p.ConversationID, n); len(echoes) > 0 {
		// Queued by a version that did not record echoes at the webhook.
		r := ok()
		r.effects.Echoes = echoes
		return e.sequenceHandled(item.Key, p, r)
	}
	owner, err := e.opts.Store.ConversationOwner(ctx, p.ConversationID)
	if errors.Is(err, store.ErrNotFound) && len(n.Conversations) == 1 {
		owner, err = e.resumed(ctx, p.ConversationID, n.Conversations[0])
	}
	if errors.Is(err, store.ErrNotFound) {
		// A conversation leconnect did not open, or opened just before a
		// crash and has not recorded yet (see adopt).
		e.metrics.unowned.Inc()
		e.log.Debug("notification for a conversation of a consumer leconnect does not know; ignored", "conversation_id", p.ConversationID)
		for _, c := range n.Conversations {
			if err := e.rememberUnowned(ctx, c); err != nil {
				return retryLater(err)
			}
		}
		return ok()
	}
	if err != nil {
		return retryLater(err)
	}
	c, err := e.opts.Store.GetConsumer(ctx, owner)
	if err != nil {
		return retryLater(err)
	}
	if len(n.Conversations) == 1 {
		if c, err = e.recordParticipant(ctx, c, n.Conversations[0]); err != nil {
			return retryLater(err)
		}
	}
	settings, known := e.opts.Settings(owner.Channel)
	if !known {
		return deadLetter(fmt.Errorf("channel %q is no longer configured", owner.Channel))
	}
	d := &delivery{e: e, owner: owner, consumer: c, settings: settings, conversationID: p.ConversationID}
	if e.log.IsTrace() {
		e.log.Trace("outbound", "conversation_id", p.ConversationID, "seq", item.Seq, "payload", string(item.Payload))
	}
	var r result
	switch {
	case len(n.Messaging) == 1:
		r = e.sequenceHandled(item.Key, p, d.messaging(ctx, n.Messaging[0]))
	case len(n.Conversations) == 1:
		r = d.conversationChange(ctx, n.Conversations[0])
	default:
		r = deadLetter(errors.New("queued notification does not hold exactly one change"))
	}
	return r
}

// outboundChange is a queued change: as the webhook parsed it, when this
// process accepted it, else from its stored payload.
func (e *Engine) outboundChange(item store.Item) (outboundPayload, *liveperson.Notification, error) {
	if n, ok := e.outHandoff.take(item.Seq); ok {
		p := outboundPayload{V: payloadVersion, ConversationID: item.Key}
		if item.Sequence != nil {
			seq := int(*item.Sequence)
			p.Sequence = &seq
		}
		return p, n, nil
	}
	var p outboundPayload
	if err := decode(item.Payload, &p); err != nil {
		return p, nil, err
	}
	body := []byte(p.Body)
	var raw string
	if len(body) > 0 && body[0] == '"' && json.Unmarshal(body, &raw) == nil {
		body = []byte(raw) // a body that was not JSON, kept as a string: say why it was not
	}
	n, err := liveperson.ParseNotification(body)
	return p, n, err
}

// sequenceHandled notes a done messaging event's sequence as the last
// handled in its conversation, for reordering: in memory, and in the store
// with the ack (after a restart).
func (e *Engine) sequenceHandled(key string, p outboundPayload, r result) result {
	if r.outcome != outcomeDone || p.Sequence == nil {
		return r
	}
	e.seqMu.Lock()
	last, ok := e.lastSeq[key]
	if !ok || *p.Sequence > last {
		last = *p.Sequence
		e.lastSeq[key] = last
	}
	e.seqMu.Unlock()
	r.effects.Handled = &store.Handled{ConversationID: p.ConversationID, Sequence: int64(last)}
	return r
}

// delivery is one outbound change on its way to a consumer.
type delivery struct {
	e              *Engine
	owner          store.Identity
	consumer       store.Consumer
	settings       ChannelSettings
	conversationID string
}

func (d *delivery) adapter() (Adapter, error) {
	a, ok := d.e.opts.Adapters.Adapter(d.owner.Channel)
	if !ok {
		return nil, sdk.NotConnected(fmt.Errorf("channel %q has no running adapter", d.owner.Channel))
	}
	return a, nil
}

func (d *delivery) address() sdk.Address {
	return sdk.Address{ChatID: d.consumer.Address.ChatID, ThreadID: d.consumer.Address.ThreadID}
}

func (d *delivery) messaging(ctx context.Context, m liveperson.MessagingChange) result {
	if m.FromConsumer() {
		return ok() // not our publish (see handleOutbound): nothing to record
	}
	if m.MessageAudience == "AGENTS_AND_MANAGERS" {
		d.e.metrics.filtered.Inc()
		return ok() // private to agents
	}
	a, err := d.adapter()
	if err != nil {
		return adapterResult(err)
	}
	caps := a.Description().Capabilities
	seq := -1
	if m.Sequence != nil {
		seq = *m.Sequence
	}
	o := &offers{owner: d.owner, conversationID: d.conversationID, seq: seq}
	switch ev := m.Event.(type) {
	case *liveperson.ContentEvent:
		msg, r := d.renderContent(ctx, caps, ev, o)
		if r.outcome != outcomeDone {
			return r
		}
		return d.offer(ctx, a, msg, seq, o)
	case *liveperson.RichContentEvent:
		return d.offer(ctx, a, renderRich(caps, ev, o), seq, o)
	case *liveperson.ChatStateEvent:
		if !caps.Typing {
			return ok()
		}
		if err := a.SetTyping(ctx, d.address(), ev.ChatState == string(liveperson.ChatStateComposing)); err != nil {
			d.e.log.Debug("typing not shown", "channel", d.owner.Channel, "conversation_id", d.conversationID, "err", err)
		}
		return ok() // typing is momentary: a late one is worse than none
	case *liveperson.UnknownEvent:
		d.e.metrics.unparsed.Inc()
		return deadLetter(fmt.Errorf("an agent event of a type leconnect does not know (%q): kept for an operator", ev.Type))
	case *liveperson.AcceptStatusEvent:
		if ev.Status != string(liveperson.AcceptStatusRead) || !caps.ReadReceipts {
			return ok()
		}
		var ids []string
		for _, s := range ev.SequenceList {
			links, err := d.e.opts.Store.LinksBySequence(ctx, d.conversationID, int64(s))
			if err != nil {
				return retryLater(err)
			}
			for _, l := range links {
				if l.Channel == d.owner.Channel {
					ids = append(ids, l.ChannelMessageID)
				}
			}
		}
		if len(ids) == 0 {
			d.e.log.Debug("agent read messages leconnect has no record of", "conversation_id", d.conversationID, "sequences", ev.SequenceList)
			return ok()
		}
		return adapterResult(a.MarkRead(ctx, d.address(), ids))
	}
	return ok()
}

// send delivers one message and links the platform's ids to the LiveEngage
// sequence for receipts. The idempotency key is stable across retries and
// restarts, so a repeat is answered from the adapter's journal.
func (d *delivery) send(ctx context.Context, a Adapter, msg sdk.OutboundMessage, seq int, suffix string) result {
	msg.To = d.address()
	msg.IdempotencyKey = "lc:" + d.conversationID + ":" + strconv.Itoa(seq) + suffix
	if inDoubt(ctx, msg.IdempotencyKey) {
		d.e.awaitSendRecord(ctx, d.owner.Channel, msg.IdempotencyKey)
	}
	res, err := a.Send(ctx, msg)
	if errors.Is(err, sdk.ErrSendSkipped) {
		return d.tellSkipped(ctx, msg)
	}
	if err != nil {
		return adapterResult(err)
	}
	if d.e.log.IsDebug() { // the hot path: no arguments boxed at production levels
		d.e.log.Debug("delivered", "channel", d.owner.Channel, "conversation_id", d.conversationID, "key", msg.IdempotencyKey, "message_ids", res.MessageIDs)
	}
	d.e.metrics.delivered(d.owner.Channel)
	if seq < 0 || len(res.MessageIDs) == 0 {
		return ok()
	}
	links := make([]store.MessageLink, 0, len(res.MessageIDs))
	for _, id := range res.MessageIDs {
		links = append(links, store.MessageLink{Channel: d.owner.Channel, ChatID: msg.To.ChatID, ChannelMessageID: id,
			ConversationID: d.conversationID, Sequence: int64(seq)})
	}
	return okLinked(links...)
}

// tellSkipped tells the agent, in the conversation, that an agent message
// was not sent again because an earlier attempt may have reached the
// consumer (the channel's in_doubt_sends is skip): it is for the agent to
// ask or repeat it.
func (d *delivery) tellSkipped(ctx context.Context, msg sdk.OutboundMessage) result {
	what := msg.Text
	if r := []rune(what); len(r) > 200 {
		what = string(r[:200]) + "…"
	}
	if what == "" {
		what = "(a message without text)"
	}
	note := fmt.Sprintf("[leconnect] This agent message may not have reached the consumer: the %s channel's adapter stopped while sending it, and it was not sent again: %q", d.owner.Channel, what)
	conv := liveperson.Conversation{ExtConsumerID: d.consumer.ExtConsumerID, ConversationID: d.conversationID}
	if _, err := d.e.opts.LiveEngage.PublishText(ctx, conv, note); err != nil {
		return liveEngageResult(err)
	}
	return ok()
}

// offer sends msg once the choices it offers are stored, so that a click,
// however quick, finds what it must report.
func (d *delivery) offer(ctx context.Context, a Adapter, msg sdk.OutboundMessage, seq int, o *offers) result {
	if len(o.list) > 0 {
		if err := d.e.opts.Store.PutChoices(ctx, o.list...); err != nil {
			return retryLater(err)
		}
	}
	return d.send(ctx, a, msg, seq, "")
}

// adapterResult turns an adapter's error into the engine's verdict.
func adapterResult(err error) result {
	if err == nil {
		return ok()
	}
	switch sdk.KindOf(err) {
	case sdk.KindPermanent:
		return deadLetter(err)
	case sdk.KindRetryAfter:
		d, _ := sdk.RetryDelay(err)
		return retryAfter(err, d)
	}
	return retryLater(err)
}

// attrAgentClosed marks (in the consumer's record) the conversation the
// agent closed, so its closing messages are sent once it is no longer open.
const attrAgentClosed = "agent_closed"

// followDialog keeps the consumer's record on the dialog LiveEngage says
// consumer messages go to: the MAIN dialog, or, once the agent closed it
// and LiveEngage runs its post-conversation survey, the POST_SURVEY dialog
// (a new dialog id in the still open conversation). A publish the engine
// had seen refused as "closed" meanwhile left the record closed: it is
// open again.
func (d *delivery) followDialog(ctx context.Context, c liveperson.ConversationChange) result {
	active := c.Details.ActiveDialog()
	if active == nil {
		return ok()
	}
	dialog := active.DialogID
	if dialog == d.conversationID {
		dialog = "" // the MAIN dialog: the conversation's own id
	}
	rec := d.consumer.Conversation
	if rec.DialogID == dialog && rec.State == store.StateOpen {
		return ok()
	}
	_, err := store.UpdateConsumer(ctx, d.e.opts.Store, d.owner, func(r *store.Consumer) error {
		if r.Conversation.ID == d.conversationID {
			r.Conversation.DialogID = dialog
			r.Conversation.State = store.StateOpen
		}
		return nil
	})
	if err != nil {
		return retryLater(err)
	}
	if active.DialogType == "POST_SURVEY" {
		d.e.log.Info("LiveEngage's post-conversation survey: the consumer's answers go to its dialog",
			"channel", d.owner.Channel, "conversation_id", d.conversationID, "dialog_id", active.DialogID)
	}
	return ok()
}

// attrAssignedAgent is "conversation-id agent-id": the agent LiveEngage
// last named as assigned to that conversation, so that the agent leaving it
// is noticed (and an earlier conversation's agent is not taken for it).
const attrAssignedAgent = "assigned_agent"

// assignment follows who is assigned to the open conversation. When the
// assigned agent leaves (a transfer to another skill or agent, or back to
// the queue) the consumer is told, if the channel says so. The consumer's
// messages go on to the same conversation whoever is assigned, or nobody.
func (d *delivery) assignment(ctx context.Context, c liveperson.ConversationChange) result {
	agent := c.Details.AssignedAgentID()
	had, ours := strings.CutPrefix(d.consumer.Attrs[attrAssignedAgent], d.conversationID+" ")
	if !ours {
		had = "" // another conversation's agent, or none
	}
	if agent == had {
		return ok()
	}
	if had != "" && d.settings.TransferMessage != "" {
		a, err := d.adapter()
		if err != nil {
			return adapterResult(err)
		}
		// Sent before the record moves on, so a retry sends it again (the
		// adapter's journal answers a repeat by its key).
		suffix := ":transfer:" + strconv.FormatInt(c.Details.MetaDataLastUpdateTs, 10)
		if r := d.send(ctx, a, sdk.OutboundMessage{Text: d.settings.TransferMessage}, -1, suffix); r.outcome != outcomeDone {
			return r
		}
	}
	if had != "" && agent != had {
		d.e.log.Info("the agent left the conversation (transfer or back to the queue)", "channel", d.owner.Channel,
			"conversation_id", d.conversationID, "skill_id", c.Details.SkillID)
	}
	_, err := store.UpdateConsumer(ctx, d.e.opts.Store, d.owner, func(rec *store.Consumer) error {
		if rec.Conversation.ID != d.conversationID {
			return nil
		}
		if rec.Attrs == nil {
			rec.Attrs = map[string]string{}
		}
		if agent == "" {
			delete(rec.Attrs, attrAssignedAgent)
		} else {
			rec.Attrs[attrAssignedAgent] = d.conversationID + " " + agent
		}
		return nil
	})
	if err != nil {
		return retryLater(err)
	}
	return ok()
}

// conversationChange handles the agent closing the conversation: the
// configured closing message, then the CSAT prompt.
func (d *delivery) conversationChange(ctx context.Context, c liveperson.ConversationChange) result {
	if c.Details.Closed() {
		d.e.seqMu.Lock()
		delete(d.e.lastSeq, d.conversationID) // bounded memory: closed conversations need no reordering state
		d.e.seqMu.Unlock()
	}
	conv := d.consumer.Conversation
	if conv.ID != d.conversationID {
		return ok()
	}
	if !c.Details.Closed() {
		if r := d.followDialog(ctx, c); r.outcome != outcomeDone {
			return r
		}
		return d.assignment(ctx, c)
	}
	// The record moves on first, so the consumer's answer to the CSAT prompt
	// can never arrive before the engine knows it is one; a retry after a
	// failed send finds the conversation marked as closed by the agent and
	// sends again (the adapter's journal drops what already went out).
	// LiveEngage's own survey ran: it asked what our CSAT prompt would.
	surveyed := false
	for _, dl := range c.Details.Dialogs {
		surveyed = surveyed || dl.DialogType == "POST_SURVEY"
	}
	if conv.State == store.StateOpen {
		next := store.StateClosed
		if d.settings.CSATPrompt != "" && !surveyed {
			next = store.StateCSATPending
		}
		_, err := store.UpdateConsumer(ctx, d.e.opts.Store, d.owner, func(c *store.Consumer) error {
			if c.Conversation.ID == d.conversationID && c.Conversation.State == store.StateOpen {
				c.Conversation.State = next
				c.Conversation.ClosedAt = time.Now()
				if next == store.StateCSATPending {
					c.Conversation.Survey = store.Survey{Stage: store.SurveyCSAT, AskedAt: time.Now()}
				}
				if c.Attrs == nil {
					c.Attrs = map[string]string{}
				}
				c.Attrs[attrAgentClosed] = d.conversationID
			}
			return nil
		})
		if err != nil {
			return retryLater(err)
		}
	} else if d.consumer.Attrs[attrAgentClosed] != d.conversationID {
		return ok() // closed by the consumer (end keyword, STOP): nothing to say
	}
	a, err := d.adapter()
	if err != nil {
		return adapterResult(err)
	}
	if d.settings.ClosingMessage != "" {
		if r := d.send(ctx, a, sdk.OutboundMessage{Text: d.settings.ClosingMessage}, -1, ":closed"); r.outcome != outcomeDone {
			return r
		}
	}
	if d.settings.CSATPrompt != "" && !surveyed {
		if r := d.send(ctx, a, surveyQuestion(d.settings, store.SurveyCSAT, ""), -1, ":csat"); r.outcome != outcomeDone {
			return r
		}
	}
	d.e.log.Info("conversation closed by the agent", "channel", d.owner.Channel, "conversation_id", d.conversationID)
	return ok()
}
