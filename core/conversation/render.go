package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/core/store"
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// renderContent turns an agent's ContentEvent into a message for the
// channel, within what the adapter declared it can render: files are
// fetched from LiveEngage, quick replies become choices or numbered text.
func (d *delivery) renderContent(ctx context.Context, caps sdk.Capabilities, ev *liveperson.ContentEvent, o *offers) (sdk.OutboundMessage, result) {
	msg := sdk.OutboundMessage{Text: ev.Text}
	if ev.File != nil {
		kind := mediaKind(ev.File.FileType)
		if !canSend(caps, kind) {
			msg.Text = strings.TrimSpace(ev.File.Caption + "\n[the agent sent a file this channel cannot show]")
		} else {
			conv := liveperson.Conversation{ExtConsumerID: d.consumer.ExtConsumerID, ConversationID: d.conversationID}
			f, err := d.e.opts.LiveEngage.DownloadFile(ctx, conv, ev.File.RelativePath)
			switch {
			case errors.Is(err, safehttp.ErrRefused):
				// Retrying cannot help: the consumer gets the caption and a note.
				d.e.log.Warn("agent file not fetched", "conversation_id", d.conversationID, "err", err)
				msg.Text = strings.TrimSpace(ev.File.Caption + "\n[the agent sent a file that could not be fetched]")
			case err != nil:
				return msg, liveEngageResult(err)
			default:
				msg.Text = ev.File.Caption
				msg.Media = &sdk.Media{Kind: kind, ContentType: f.ContentType, FileName: fileName(ev.File), Data: f.Data}
			}
		}
	}
	if choices := quickReplies(ev.QuickReplies); len(choices) > 0 {
		if caps.QuickReplies {
			msg.QuickReplies = o.add(choices)
		} else {
			msg.Text = withNumberedChoices(msg.Text, choices)
		}
	}
	return msg, ok()
}

// renderRich flattens structured content: its texts become the message,
// its buttons choices (or numbered text when the adapter has no buttons).
func renderRich(caps sdk.Capabilities, ev *liveperson.RichContentEvent, o *offers) sdk.OutboundMessage {
	var texts []string
	var buttons []offer
	walkElements(ev.Content, &texts, &buttons)
	msg := sdk.OutboundMessage{Text: strings.Join(texts, "\n")}
	if len(buttons) > 0 {
		if caps.Buttons {
			msg.Buttons = o.add(buttons)
		} else {
			msg.Text = withNumberedChoices(msg.Text, buttons)
		}
	}
	if choices := quickReplies(ev.QuickReplies); len(choices) > 0 {
		if caps.QuickReplies {
			msg.QuickReplies = o.add(choices)
		} else {
			msg.Text = withNumberedChoices(msg.Text, choices)
		}
	}
	return msg
}

// offer is an element rendered as a choice, with what a click on it does.
type offer struct {
	sdk.Choice
	// metadata is the element's click metadata (a JSON array), if any.
	metadata json.RawMessage
	// publish is the text a click publishes; "" for a link, which the
	// platform opens itself.
	publish string
}

// offers gives the choices of one agent event ids a click can be traced
// back by, and collects what each click reports, for the store.
type offers struct {
	owner          store.Identity
	conversationID string
	seq            int
	list           []store.Choice
}

// choiceIDPrefix marks a choice id the engine made (see offers.id).
const choiceIDPrefix = "lc1:"

// id is unique per consumer and short enough for every platform's button
// payload (Telegram's callback_data takes 64 bytes): the conversation
// hashed, the agent event's sequence, the element's position.
func (o *offers) id(n int) string {
	sum := sha256.Sum256([]byte(o.conversationID))
	return fmt.Sprintf("%s%s:%d:%d", choiceIDPrefix, base64.RawURLEncoding.EncodeToString(sum[:9]), o.seq, n)
}

// add returns the choices to offer. Links keep their URL as id; the rest
// get an id of the engine's and are remembered with their metadata.
func (o *offers) add(list []offer) []sdk.Choice {
	out := make([]sdk.Choice, 0, len(list))
	for _, of := range list {
		c := of.Choice
		if o != nil && of.publish != "" {
			c.ID = o.id(len(o.list))
			o.list = append(o.list, store.Choice{Identity: o.owner, ID: c.ID, ConversationID: o.conversationID,
				Sequence: int64(o.seq), Metadata: of.metadata, PublishText: of.publish})
		}
		out = append(out, c)
	}
	return out
}

// element is the part of a structured-content element the engine reads.
type element struct {
	Type     string            `json:"type"`
	Text     string            `json:"text"`
	Title    string            `json:"title"`
	URL      string            `json:"url"`
	Elements []json.RawMessage `json:"elements"`
	Click    struct {
		Metadata json.RawMessage `json:"metadata"`
		Actions  []struct {
			Type string `json:"type"`
			Text string `json:"text"`
			URI  string `json:"uri"`
		} `json:"actions"`
	} `json:"click"`
}

func walkElements(raw json.RawMessage, texts *[]string, buttons *[]offer) {
	var el element
	if len(raw) == 0 || json.Unmarshal(raw, &el) != nil {
		return
	}
	switch el.Type {
	case "text":
		if el.Text != "" {
			*texts = append(*texts, el.Text)
		}
	case "image":
		if el.Title != "" {
			*texts = append(*texts, el.Title)
		}
	case "button":
		if c, ok := choiceOf(el); ok {
			*buttons = append(*buttons, c)
		}
	}
	for _, child := range el.Elements {
		walkElements(child, texts, buttons)
	}
}

// choiceOf reads a button: what it shows, the text it publishes back (or
// the link it opens, shown instead), and its click metadata.
func choiceOf(el element) (offer, bool) {
	title := el.Title
	md := el.Click.Metadata
	if len(md) == 0 || string(md) == "null" {
		md = nil
	}
	for _, a := range el.Click.Actions {
		switch a.Type {
		case "publishText":
			if title == "" {
				title = a.Text
			}
			return offer{Choice: sdk.Choice{ID: a.Text, Text: title}, metadata: md, publish: a.Text}, a.Text != ""
		case "link":
			return offer{Choice: sdk.Choice{ID: a.URI, Text: strings.TrimSpace(title + " " + a.URI)}, metadata: md}, a.URI != ""
		}
	}
	return offer{Choice: sdk.Choice{ID: title, Text: title}, metadata: md, publish: title}, title != ""
}

// quickReplies reads {"type":"quickReplies","replies":[button, ...]}.
func quickReplies(raw json.RawMessage) []offer {
	var qr struct {
		Replies []json.RawMessage `json:"replies"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &qr) != nil {
		return nil
	}
	var out []offer
	for _, r := range qr.Replies {
		var el element
		if json.Unmarshal(r, &el) == nil {
			if c, ok := choiceOf(el); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

func withNumberedChoices(text string, choices []offer) string {
	var b strings.Builder
	b.WriteString(text)
	for i, c := range choices {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%d. %s", i+1, c.Text)
	}
	return b.String()
}

func mediaKind(fileType string) sdk.MediaKind {
	switch strings.ToUpper(fileType) {
	case "JPG", "JPEG", "PNG", "GIF", "WEBP":
		return sdk.MediaImage
	case "MP3", "OGG", "WAV", "M4A":
		return sdk.MediaAudio
	case "MP4", "MOV":
		return sdk.MediaVideo
	}
	return sdk.MediaFile
}

func canSend(caps sdk.Capabilities, kind sdk.MediaKind) bool {
	for _, k := range caps.MediaKinds {
		if k == kind {
			return true
		}
	}
	return false
}

func fileName(f *liveperson.HostedFile) string {
	name := f.RelativePath
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = "file"
	}
	if ext := strings.ToLower(f.FileType); ext != "" && !strings.Contains(name, ".") {
		name += "." + ext
	}
	return name
}
