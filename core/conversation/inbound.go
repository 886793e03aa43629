package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// handleInbound takes one channel event to LiveEngage.
func (e *Engine) handleInbound(ctx context.Context, lease store.Lease, item store.Item, attempt int) result {
	p, handed := e.inHandoff.take(item.Seq)
	if !handed {
		if err := decode(item.Payload, &p); err != nil {
			return deadLetter(err)
		}
	}
	settings, known := e.opts.Settings(p.Channel)
	if !known {
		return deadLetter(fmt.Errorf("channel %q is no longer configured", p.Channel))
	}
	in := &inbound{e: e, lease: lease, item: item, ev: p.Event, channel: p.Channel, settings: settings,
		id: store.Identity{Channel: p.Channel, ConsumerID: p.Event.Consumer.ID}}
	switch ev := p.Event; {
	case ev.Message != nil:
		return in.message(ctx, attempt)
	case ev.Typing != nil:
		return in.typing(ctx)
	case ev.Receipt != nil:
		return in.receipt(ctx)
	case ev.End != nil:
		return in.end(ctx)
	}
	return deadLetter(errors.New("event of no known kind"))
}

// inbound is one channel event on its way to LiveEngage.
type inbound struct {
	e        *Engine
	lease    store.Lease // the item's key's, for writes to the item
	item     store.Item
	ev       sdk.Event
	channel  string
	settings ChannelSettings
	id       store.Identity
}

func (in *inbound) log(msg string, args ...any) {
	in.e.log.Info(msg, append([]any{"channel", in.channel, "event_id", in.ev.ID}, args...)...)
}

// consumer returns the stored record, or a new one for a first contact.
func (in *inbound) consumer(ctx context.Context) (store.Consumer, error) {
	c, err := in.e.opts.Store.GetConsumer(ctx, in.id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Consumer{Identity: in.id, ExtConsumerID: extConsumerID(in.channel, in.id.ConsumerID)}, nil
	}
	return c, err
}

func conversationOf(c store.Consumer) liveperson.Conversation {
	return liveperson.Conversation{ExtConsumerID: c.ExtConsumerID, ConversationID: c.Conversation.ID, DialogID: c.Conversation.DialogID}
}

// conversation is where the consumer's calls go, with the channel's
// Client-Properties features, which LiveEngage wants on every SEND.
func (in *inbound) conversation(c store.Consumer) liveperson.Conversation {
	conv := conversationOf(c)
	conv.Features = in.features()
	return conv
}

// update stores a change to the consumer's record.
func (in *inbound) update(ctx context.Context, fn func(c *store.Consumer)) (store.Consumer, error) {
	return store.UpdateConsumer(ctx, in.e.opts.Store, in.id, func(c *store.Consumer) error {
		if c.ExtConsumerID == "" {
			c.ExtConsumerID = extConsumerID(in.channel, in.id.ConsumerID)
		}
		fn(c)
		return nil
	})
}

func (in *inbound) message(ctx context.Context, attempt int) result {
	m := in.ev.Message
	c, err := in.consumer(ctx)
	if err != nil {
		return retryLater(err)
	}
	text := strings.TrimSpace(m.Text)

	if c.Conversation.State == store.StateCSATPending {
		if r, answered := in.survey(ctx, c, m, text); answered {
			return r
		}
		// The survey is over (abandoned, or a second wrong answer): the
		// message opens a new conversation.
		if c, err = in.consumer(ctx); err != nil {
			return retryLater(err)
		}
	}
	if m.Choice != nil && isSurveyChoice(m.Choice.ID) {
		in.log("an answer to a survey that is over; ignored", "choice", m.Choice.ID)
		return ok()
	}
	if kw := in.settings.EndKeyword; kw != "" && strings.EqualFold(text, kw) && len(m.Media) == 0 {
		return in.close(ctx, c, "the consumer typed "+kw)
	}

	c, r := in.ensureOpen(ctx, c)
	if r.outcome != outcomeDone {
		return r
	}
	conv := in.conversation(c)
	chat := in.ev.Address.ChatID
	msgID := m.ID
	if msgID == "" {
		msgID = in.ev.ID
	}
	// Published before (a crash or a timeout came between LiveEngage's
	// answer and our record of it)?
	if _, err := in.e.opts.Store.LinkByChannelMessage(ctx, in.channel, chat, msgID); err == nil {
		return ok()
	} else if !errors.Is(err, store.ErrNotFound) {
		return retryLater(err)
	}
	extID := externalID(in.channel, in.ev.ID)
	if in.item.Attempts > 0 || in.e.isUncertain(in.item.Seq) {
		seq, seen, err := in.e.waitEcho(ctx, conv.ConversationID, extID)
		if err != nil {
			return retryLater(err)
		}
		if seen {
			in.log("publish confirmed by LiveEngage's echo; not publishing again", "conversation_id", conv.ConversationID)
			return in.linked(conv, chat, msgID, seq)
		}
	}
	if in.item.Attempts == 0 && attempt == 1 {
		if err := in.e.opts.Store.Inbound().Leases().MarkAttempted(ctx, in.lease, in.item.Seq); err != nil {
			return retryLater(err)
		}
	}
	seq, err := in.publish(ctx, conv, m, extID)
	switch {
	case errors.Is(err, liveperson.ErrConversationClosed):
		// Closed under us (by the agent, or expired): open a new one and
		// publish there. Nothing was published, so nothing is uncertain.
		in.e.setUncertain(in.item.Seq, false)
		if _, uerr := in.update(ctx, func(c *store.Consumer) {
			if c.Conversation.ID == conv.ConversationID {
				c.Conversation.State = store.StateClosed
				c.Conversation.ClosedAt = time.Now()
			}
		}); uerr != nil {
			return retryLater(uerr)
		}
		return retryAfter(err, time.Millisecond)
	case err != nil:
		in.e.setUncertain(in.item.Seq, outcomeUnknown(err))
		return liveEngageResult(err)
	}
	in.e.setUncertain(in.item.Seq, false)
	in.e.metrics.published(in.channel)
	return in.linked(conv, chat, msgID, seq)
}

// linked records, with the ack, which sequence a platform message got: for
// receipts, and so that a repeat of this item is recognised. Should that
// commit fail, the item stays attempted and a retry finds LiveEngage's echo.
func (in *inbound) linked(conv liveperson.Conversation, chat, msgID string, seq int) result {
	return okLinked(store.MessageLink{Channel: in.channel, ChatID: chat, ChannelMessageID: msgID,
		ConversationID: conv.ConversationID, Sequence: int64(seq)})
}

// publish sends the message's text, files or choice, tagged with extID so
// LiveEngage's echo can be recognised. It returns the last sequence.
func (in *inbound) publish(ctx context.Context, conv liveperson.Conversation, m *sdk.Message, extID string) (int, error) {
	md := liveperson.Metadata{"type": "ExternalId", "id": extID}
	le := in.e.opts.LiveEngage
	if m.Choice != nil {
		text, click, err := in.click(ctx, conv, m.Choice)
		if err != nil {
			return 0, err
		}
		// The element's metadata first (bots and reports read the first
		// ExternalId), ours after it, for recognising the echo.
		res, err := le.PublishText(ctx, conv, text, append(click, md)...)
		return res.Sequence, err
	}
	if len(m.Media) == 0 {
		if m.Text == "" {
			return 0, fmt.Errorf("%w: empty message", liveperson.ErrInvalidArgument)
		}
		res, err := le.PublishText(ctx, conv, m.Text, md)
		return res.Sequence, err
	}
	// Files: LiveEngage hosts images; other kinds are announced in text. The
	// caption travels with the (first) image.
	seq, caption := -1, m.Text
	for _, media := range m.Media {
		if caption == "" {
			caption = media.Caption
		}
		fileType, isImage := imageFileType(media)
		var res liveperson.PublishResult
		var err error
		if isImage {
			res, err = le.PublishFile(ctx, conv, liveperson.File{Data: media.Data, FileType: fileType, Caption: caption}, md)
			caption = ""
		} else {
			res, err = le.PublishText(ctx, conv, strings.TrimSpace(caption+"\n[the consumer sent a "+media.Kind.String()+" file this connector cannot pass on]"), md)
			caption = ""
		}
		if err != nil {
			return 0, err
		}
		seq = res.Sequence
	}
	if caption != "" {
		res, err := le.PublishText(ctx, conv, caption, md)
		if err != nil {
			return 0, err
		}
		seq = res.Sequence
	}
	return seq, nil
}

// click reports a consumer's pick of a structured-content element: an
// ACTION accept status with the element's click metadata, for the agent
// event that offered it. It returns the text the pick publishes and the
// metadata to publish it with. A choice the store no longer knows (older
// than the links' lifetime) publishes its label, or its id when the engine
// did not make it.
func (in *inbound) click(ctx context.Context, conv liveperson.Conversation, c *sdk.Choice) (string, []liveperson.Metadata, error) {
	ch, err := in.e.opts.Store.GetChoice(ctx, in.id, c.ID)
	switch {
	case errors.Is(err, store.ErrNotFound) && strings.HasPrefix(c.ID, choiceIDPrefix):
		return c.Text, nil, nil
	case errors.Is(err, store.ErrNotFound):
		return c.ID, nil, nil
	case err != nil:
		return "", nil, err
	}
	var md []liveperson.Metadata
	if len(ch.Metadata) > 0 {
		if err := json.Unmarshal(ch.Metadata, &md); err != nil {
			in.log("the element's click metadata is not a JSON array; published without it", "err", err)
			md = nil
		}
	}
	// The ACTION names a sequence of the conversation that offered the
	// element; a pick from an earlier conversation only publishes.
	if len(md) > 0 && ch.ConversationID == conv.ConversationID {
		if err := in.e.opts.LiveEngage.SendAcceptStatus(ctx, conv, liveperson.AcceptStatusAction, []int{int(ch.Sequence)}, md...); err != nil {
			return "", nil, err
		}
	}
	return ch.PublishText, md, nil
}

// imageFileType names an image for LiveEngage's hosted files. The bytes
// decide, not the declared type: platforms and adapters get it wrong.
func imageFileType(m sdk.Media) (string, bool) {
	contentType := http.DetectContentType(m.Data)
	if !strings.HasPrefix(contentType, "image/") {
		contentType = m.ContentType
	}
	switch strings.ToLower(contentType) {
	case "image/jpeg", "image/jpg":
		return "JPG", true
	case "image/png":
		return "PNG", true
	case "image/gif":
		return "GIF", true
	}
	return "", false
}

// ensureOpen returns the consumer's record with an open conversation,
// opening one (profile from the channel, routing from the config) if needed.
func (in *inbound) ensureOpen(ctx context.Context, c store.Consumer) (store.Consumer, result) {
	if c.Conversation.State == store.StateOpen && c.Conversation.ID != "" {
		if c.Address.ChatID != in.ev.Address.ChatID || c.Address.ThreadID != in.ev.Address.ThreadID {
			updated, err := in.update(ctx, func(c *store.Consumer) { c.Address = storeAddress(in.ev.Address) })
			if err != nil {
				return c, retryLater(err)
			}
			return updated, ok()
		}
		return c, ok()
	}
	req := liveperson.ConversationRequest{
		ExtConsumerID: c.ExtConsumerID,
		Profile:       profileOf(in.ev.Consumer, in.settings.SDEs),
		Routing:       in.settings.Routing,
		Features:      in.features(),
	}
	conv, err := in.e.opts.LiveEngage.CreateConversation(ctx, req)
	if errors.Is(err, liveperson.ErrAlreadyOpen) {
		if reopened, found := in.reopened(ctx, c); found {
			return reopened, ok()
		}
		conv, err = in.e.adopt(ctx, c)
	}
	if err != nil {
		return c, liveEngageResult(err)
	}
	updated, err := in.update(ctx, func(c *store.Consumer) {
		c.Address = storeAddress(in.ev.Address)
		c.Conversation = store.Conversation{ID: conv.ConversationID, DialogID: conv.DialogID, State: store.StateOpen, OpenedAt: time.Now()}
	})
	if err != nil {
		return c, retryLater(err)
	}
	// A conversation we just opened has delivered nothing yet: its first
	// sequence needs no reorder wait.
	in.e.seqMu.Lock()
	if _, known := in.e.lastSeq[conv.ConversationID]; !known {
		in.e.lastSeq[conv.ConversationID] = -1
	}
	in.e.seqMu.Unlock()
	in.log("conversation opened", "conversation_id", conv.ConversationID)
	in.e.metrics.opened.Inc()
	return updated, ok()
}

// reopened reports a record the outbound side has set open again since c
// was read: a publish refused as "closed" raced LiveEngage's notice of a
// post-conversation survey, which keeps the conversation open on a new
// dialog. LiveEngage refusing a new conversation as "already open" is the
// sign to look.
func (in *inbound) reopened(ctx context.Context, c store.Consumer) (store.Consumer, bool) {
	now, err := in.e.opts.Store.GetConsumer(ctx, in.id)
	if err != nil || now.Conversation.State != store.StateOpen || now.Conversation.ID == "" || now.Revision == c.Revision {
		return c, false
	}
	in.log("the conversation is open again (a survey dialog)", "conversation_id", now.Conversation.ID, "dialog_id", now.Conversation.DialogID)
	return now, true
}

// features are the Client-Properties features the channel supports.
func (in *inbound) features() []string {
	// MULTI_DIALOG: LiveEngage's post-conversation survey runs on a dialog
	// of its own, which leconnect follows (see delivery.followDialog).
	f := []string{"MULTI_DIALOG"}
	a, running := in.e.opts.Adapters.Adapter(in.channel)
	if !running {
		return f
	}
	caps := a.Description().Capabilities
	if caps.QuickReplies {
		f = append(f, "QUICK_REPLIES")
	}
	if caps.Buttons {
		f = append(f, "RICH_CONTENT")
	}
	if canSend(caps, sdk.MediaImage) {
		f = append(f, "PHOTO_SHARING")
	}
	return f
}

func storeAddress(a sdk.Address) store.Address {
	return store.Address{ChatID: a.ChatID, ThreadID: a.ThreadID}
}

// close ends the consumer's open conversation at their request.
func (in *inbound) close(ctx context.Context, c store.Consumer, why string) result {
	if c.Conversation.State != store.StateOpen {
		return ok()
	}
	err := in.e.opts.LiveEngage.CloseConversation(ctx, in.conversation(c))
	if err != nil && !errors.Is(err, liveperson.ErrConversationClosed) {
		return liveEngageResult(err)
	}
	if _, err := in.update(ctx, func(s *store.Consumer) {
		if s.Conversation.ID == c.Conversation.ID {
			s.Conversation.State = store.StateClosed
			s.Conversation.ClosedAt = time.Now()
		}
	}); err != nil {
		return retryLater(err)
	}
	in.log("conversation closed by the consumer", "conversation_id", c.Conversation.ID, "reason", why)
	return ok()
}

func (in *inbound) end(ctx context.Context) result {
	c, err := in.consumer(ctx)
	if err != nil {
		return retryLater(err)
	}
	return in.close(ctx, c, in.ev.End.Reason)
}

// typing is momentary: it is published to an open conversation or dropped.
func (in *inbound) typing(ctx context.Context) result {
	c, err := in.consumer(ctx)
	if err != nil {
		return retryLater(err)
	}
	if c.Conversation.State != store.StateOpen {
		return ok()
	}
	state := liveperson.ChatStatePause
	if in.ev.Typing.Active {
		state = liveperson.ChatStateComposing
	}
	if err := in.e.opts.LiveEngage.SetChatState(ctx, in.conversation(c), state); err != nil {
		in.e.log.Debug("typing not published", "channel", in.channel, "err", err)
	}
	return ok()
}

// receipt tells LiveEngage the consumer received or read agent messages.
func (in *inbound) receipt(ctx context.Context) result {
	c, err := in.consumer(ctx)
	if err != nil {
		return retryLater(err)
	}
	if c.Conversation.State != store.StateOpen {
		return ok()
	}
	var seqs []int
	for _, id := range in.ev.Receipt.MessageIDs {
		// A fast platform can report delivery before the Send that created
		// the message has returned and been recorded: the store wakes the
		// wait when it is. After that it is not an agent message we delivered.
		l, err := in.e.opts.Store.AwaitLink(ctx, in.channel, in.ev.Address.ChatID, id, in.item.EnqueuedAt.Add(receiptWait))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return retryLater(err)
		}
		if l.ConversationID == c.Conversation.ID {
			seqs = append(seqs, int(l.Sequence))
		}
	}
	if len(seqs) == 0 {
		return ok()
	}
	status := liveperson.AcceptStatusAccept
	if in.ev.Receipt.Status == sdk.ReceiptRead {
		status = liveperson.AcceptStatusRead
	}
	err = in.e.opts.LiveEngage.SendAcceptStatus(ctx, in.conversation(c), status, seqs)
	if errors.Is(err, liveperson.ErrConversationClosed) {
		return ok()
	}
	return liveEngageResult(err)
}

// receiptWait bounds how long a receipt waits for its message to be linked.
const receiptWait = 10 * time.Second

// csatRate reads a CSAT answer: a whole number from 1 to 5.

// liveEngageResult turns a LiveEngage error into the engine's verdict: the
// client already applied LivePerson's retry policy, so what is left is
// either an outage (keep the item, try again later) or a request that can
// never succeed (dead letter).
func liveEngageResult(err error) result {
	var api *liveperson.APIError
	switch {
	case err == nil:
		return ok()
	case errors.Is(err, liveperson.ErrBadRequest), errors.Is(err, liveperson.ErrInvalidArgument),
		errors.Is(err, liveperson.ErrTooLarge):
		return deadLetter(err)
	case errors.As(err, &api) && api.RetryAfter > 0:
		return retryAfter(err, api.RetryAfter)
	}
	return retryLater(err)
}

// outcomeUnknown reports failures after which LiveEngage may nonetheless
// have taken the request: no answer, or a server error.
func outcomeUnknown(err error) bool {
	return errors.Is(err, liveperson.ErrServerError) || errors.Is(err, liveperson.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded)
}
