package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// callback is the outer Events API envelope (channels.md §2.1), and the
// url_verification and app_rate_limited bodies that share its "type".
type callback struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	TeamID    string          `json:"team_id"`
	EventID   string          `json:"event_id"`
	EventTime int64           `json:"event_time"`
	Event     json.RawMessage `json:"event"`
}

// messageEvent is an inner message or app_mention event (§2.4).
type messageEvent struct {
	Type        string        `json:"type"`
	Subtype     string        `json:"subtype"`
	Hidden      bool          `json:"hidden"`
	Channel     string        `json:"channel"`
	ChannelType string        `json:"channel_type"`
	User        string        `json:"user"`
	BotID       string        `json:"bot_id"`
	Text        string        `json:"text"`
	TS          string        `json:"ts"`
	ThreadTS    string        `json:"thread_ts"`
	Edited      *struct{}     `json:"edited"`
	Message     *messageEvent `json:"message"` // message_changed: the new version
	Files       []file        `json:"files"`
}

// file is the part of a file object the adapter reads (§2.4).
type file struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Title              string `json:"title"`
	Mimetype           string `json:"mimetype"`
	Size               int64  `json:"size"`
	URLPrivate         string `json:"url_private"`
	URLPrivateDownload string `json:"url_private_download"`
	FileAccess         string `json:"file_access"`
}

// interaction is a block_actions payload (interactivity).
type interaction struct {
	Type string `json:"type"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
		TeamID   string `json:"team_id"`
	} `json:"user"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		MessageTS string `json:"message_ts"`
		ChannelID string `json:"channel_id"`
	} `json:"container"`
	Message *messageEvent `json:"message"`
	Actions []struct {
		ActionID string `json:"action_id"`
		Type     string `json:"type"`
		Value    string `json:"value"`
		ActionTS string `json:"action_ts"`
		Text     struct {
			Text string `json:"text"`
		} `json:"text"`
	} `json:"actions"`
}

// inbound is an event ready to deliver, before its files are fetched.
type inbound struct {
	event sdk.Event
	files []file
	keys  []string // remembered once delivered; a later event with one is a duplicate
}

// deliveredSubtypes are the message subtypes that carry a consumer's
// message. Everything else is dropped on purpose: the app's own and other
// bots' posts (bot_id / bot_message, to avoid loops), deletions
// (LiveEngage cannot delete a message), joins, topics, pins and the like.
var deliveredSubtypes = map[string]bool{"": true, "file_share": true, "thread_broadcast": true, "me_message": true}

// fromCallback maps one event_callback to at most one event. ok is false
// for events dropped on purpose (they are still acknowledged).
func fromCallback(cb callback, s *settings, self identity) (in inbound, ok bool, why string) {
	var ev messageEvent
	if err := json.Unmarshal(cb.Event, &ev); err != nil {
		return in, false, "inner event is not an object"
	}
	if ev.Type != "message" && ev.Type != "app_mention" {
		return in, false, "event type " + ev.Type + " is not handled"
	}
	edited := ev.Edited != nil
	switch {
	case ev.Subtype == "message_changed":
		if ev.Message == nil {
			return in, false, "message_changed without a message"
		}
		if !s.forwardEdits {
			return in, false, "edits are ignored (edited_messages: ignore)"
		}
		channel := ev.Channel
		ev = *ev.Message
		ev.Channel, edited = channel, true
		if !deliveredSubtypes[ev.Subtype] {
			return in, false, "edited message of subtype " + ev.Subtype
		}
	case ev.Subtype == "message_deleted":
		return in, false, "deletions are not passed on (LiveEngage cannot delete a message)"
	case !deliveredSubtypes[ev.Subtype]:
		return in, false, "message subtype " + ev.Subtype + " is not a consumer message"
	case edited && !s.forwardEdits:
		return in, false, "edits are ignored (edited_messages: ignore)"
	}
	switch {
	case ev.BotID != "" || ev.Subtype == "bot_message":
		return in, false, "posted by a bot (possibly this app)"
	case ev.User == "" || ev.User == self.UserID:
		return in, false, "posted by this app or by nobody"
	case ev.Channel == "" || ev.TS == "":
		return in, false, "no channel or ts"
	}
	in.event = sdk.Event{ID: cb.EventID, OccurredAt: tsTime(ev.TS)}
	if cb.EventID == "" { // Socket Mode payloads always have one; be safe anyway
		in.event.ID = "msg:" + ev.Channel + ":" + ev.TS
	}
	in.event.Address, in.event.Consumer = where(s, ev.Channel, ev.ChannelType, ev.ThreadTS, ev.TS, ev.User, cb.TeamID)
	text := unescape(stripMention(ev.Text, self.UserID))
	in.event.Message = &sdk.Message{ID: ev.TS, Text: text, Edited: edited}
	for _, f := range ev.Files {
		in.files = append(in.files, f)
	}
	// An app_mention and the message event for the same post carry
	// different event ids: the channel and ts tie them together.
	in.keys = []string{in.event.ID, "msg:" + ev.Channel + ":" + ev.TS}
	if edited {
		in.keys[1] = "" // an edit keeps the ts of the original
	}
	if text == "" && len(in.files) == 0 {
		return in, false, "no text and no files"
	}
	return in, true, ""
}

// fromInteraction maps a block_actions payload to a button choice.
func fromInteraction(p interaction, s *settings) (in inbound, ok bool, why string) {
	if p.Type != "block_actions" {
		return in, false, "interaction type " + p.Type + " is not handled"
	}
	if len(p.Actions) == 0 || p.Actions[0].Type != "button" {
		return in, false, "no button action"
	}
	act := p.Actions[0]
	channel := p.Channel.ID
	if channel == "" {
		channel = p.Container.ChannelID
	}
	msgTS, threadTS := p.Container.MessageTS, ""
	if p.Message != nil {
		threadTS = p.Message.ThreadTS
		if msgTS == "" {
			msgTS = p.Message.TS
		}
	}
	if channel == "" || p.User.ID == "" || msgTS == "" {
		return in, false, "no channel, user or message"
	}
	id := act.Value
	if id == "" {
		id = act.Text.Text
	}
	in.event = sdk.Event{
		ID:         "block_actions:" + channel + ":" + msgTS + ":" + act.ActionID + ":" + act.ActionTS,
		OccurredAt: tsTime(act.ActionTS),
	}
	in.event.Address, in.event.Consumer = where(s, channel, "", threadTS, msgTS, p.User.ID, p.User.TeamID)
	in.event.Consumer.Username = p.User.Username
	in.event.Consumer.DisplayName = p.User.Name
	in.event.Message = &sdk.Message{ID: msgTS + ":" + act.ActionID, Choice: &sdk.Choice{ID: id, Text: act.Text.Text}}
	in.keys = []string{in.event.ID}
	return in, true, ""
}

// where maps a Slack place to the core's address and consumer:
//   - DMs (channel type im, ids D...): one conversation per DM; the
//     consumer is the user.
//   - other channels, scope "channel": one conversation per channel; the
//     consumer is the channel (every member of a Slack Connect channel
//     talks in the same conversation).
//   - other channels, scope "thread": one conversation per thread, the
//     consumer is "<channel>/<root ts>"; a top-level post opens a thread
//     rooted at itself, and replies go into that thread.
func where(s *settings, channel, channelType, threadTS, ts, user, team string) (sdk.Address, sdk.Consumer) {
	attrs := map[string]string{"slack_user_id": user, "slack_channel_id": channel}
	if team != "" {
		attrs["slack_team_id"] = team
	}
	c := sdk.Consumer{Username: user, Attributes: attrs}
	if channelType == "im" || strings.HasPrefix(channel, "D") {
		c.ID = user
		return sdk.Address{ChatID: channel}, c
	}
	if !s.threadScope {
		c.ID = channel
		return sdk.Address{ChatID: channel}, c
	}
	root := threadTS
	if root == "" {
		root = ts
	}
	c.ID = channel + "/" + root
	return sdk.Address{ChatID: channel, ThreadID: root}, c
}

func tsTime(ts string) time.Time {
	f, err := strconv.ParseFloat(ts, 64)
	if err != nil || f <= 0 {
		return time.Now()
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

// stripMention drops the app's own @-mention ("<@U123>"), which starts
// every app_mention.
func stripMention(text, self string) string {
	if self == "" {
		return text
	}
	out := strings.TrimSpace(strings.ReplaceAll(text, "<@"+self+">", ""))
	if out == "" {
		return text
	}
	return out
}

// unescape undoes Slack's escaping of &, < and > in message text.
func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// maxFileBytes bounds one downloaded file.
const maxFileBytes = 20 << 20

// handle is the one inbound path of both modes: fetch the files, Deliver,
// remember. A nil return means Slack may be acknowledged.
func (a *Adapter) handle(ctx context.Context, api *webAPI, host sdk.Host, in inbound) error {
	if a.seen.has(in.event.ID) || (len(in.keys) > 1 && a.seen.has(in.keys[1])) {
		a.log.Debug("slack event already delivered; acknowledged again", "event_id", in.event.ID)
		return nil
	}
	for _, f := range in.files {
		u := f.URLPrivateDownload
		if u == "" {
			u = f.URLPrivate
		}
		if u == "" {
			// Slack Connect may send {"id","file_access":"check_file_info"}:
			// files.info is not called (yet); say so instead of losing it silently.
			in.event.Message.Text = strings.TrimSpace(in.event.Message.Text + "\n[the consumer shared a file the connector cannot fetch]")
			a.log.Warn("slack file without a download url", "file_id", f.ID, "file_access", f.FileAccess)
			continue
		}
		data, ct, err := api.download(ctx, u)
		if errors.Is(err, safehttp.ErrRefused) || errors.Is(err, safehttp.ErrTooLarge) {
			// Slack sending it again cannot help: say so instead.
			in.event.Message.Text = strings.TrimSpace(in.event.Message.Text + "\n[the consumer shared a file the connector cannot fetch]")
			a.log.Warn("slack file not fetched", "file_id", f.ID, "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("fetch file %s: %w", f.ID, err)
		}
		if f.Mimetype != "" {
			ct = f.Mimetype
		}
		in.event.Message.Media = append(in.event.Message.Media, sdk.Media{Kind: kindOf(ct), ContentType: ct, FileName: f.Name, Data: data})
	}
	if in.event.Message != nil {
		a.users.enrich(ctx, api, &in.event.Consumer, a.log.Debug)
	}
	if err := host.Deliver(ctx, in.event); err != nil {
		if sdk.KindOf(err) == sdk.KindPermanent {
			// The core refused the event itself; Slack retrying cannot help.
			a.log.Error("slack event refused by the core; dropped", "event_id", in.event.ID, "err", err)
			return nil
		}
		return fmt.Errorf("deliver event %s: %w", in.event.ID, err)
	}
	a.seen.add(in.keys...)
	return nil
}

func kindOf(contentType string) sdk.MediaKind {
	switch {
	case strings.HasPrefix(contentType, "image/"):
		return sdk.MediaImage
	case strings.HasPrefix(contentType, "audio/"):
		return sdk.MediaAudio
	case strings.HasPrefix(contentType, "video/"):
		return sdk.MediaVideo
	}
	return sdk.MediaFile
}

// errMalformed marks payloads that can never be processed: answered with
// x-slack-no-retry.
var errMalformed = errors.New("malformed payload")

// handleCallback handles one event_callback body (HTTP or Socket Mode).
func (a *Adapter) handleCallback(ctx context.Context, body []byte) error {
	cfg, api, host, self := a.snapshot()
	if host == nil {
		return errors.New("not started")
	}
	var cb callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	switch cb.Type {
	case "event_callback":
	case "app_rate_limited":
		a.log.Warn("slack stopped sending events for a minute: over 30,000 events per hour (app_rate_limited)")
		return nil
	default:
		a.log.Debug("slack callback ignored", "type", cb.Type)
		return nil
	}
	in, ok, why := fromCallback(cb, cfg, self)
	if !ok {
		a.log.Debug("slack event ignored", "event_id", cb.EventID, "why", why)
		return nil
	}
	return a.handle(ctx, api, host, in)
}

// handleInteraction handles one interactivity payload (the JSON object).
func (a *Adapter) handleInteraction(ctx context.Context, payload []byte) error {
	cfg, api, host, _ := a.snapshot()
	if host == nil {
		return errors.New("not started")
	}
	var p interaction
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	in, ok, why := fromInteraction(p, cfg)
	if !ok {
		a.log.Debug("slack interaction ignored", "type", p.Type, "why", why)
		return nil
	}
	return a.handle(ctx, api, host, in)
}
