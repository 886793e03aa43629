package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// inbound is an update turned into an event, before its files are fetched.
type inbound struct {
	event      sdk.Event
	files      []fileRef // fetched into event.Message.Media, in order
	callbackID string    // answered with answerCallbackQuery after delivery
}

// fileRef names a platform file to fetch with getFile.
type fileRef struct {
	fileID      string
	kind        sdk.MediaKind
	fileName    string
	contentType string
	caption     string
}

// allowedUpdates are the update types the adapter asks Telegram for.
var allowedUpdates = []string{"message", "edited_message", "callback_query", "my_chat_member"}

// toInbound maps one update to at most one event. ok is false for updates
// the adapter deliberately drops (they are still acknowledged): channel
// posts, messages from bots, service messages, kinds it does not handle.
// choice resolves callback_data back to the Choice that produced it.
func toInbound(u update, s *settings, choice func(data, text string) sdk.Choice) (in inbound, ok bool) {
	in.event.ID = strconv.FormatInt(u.UpdateID, 10)
	switch {
	case u.Message != nil:
		return messageInbound(in, u.Message, s, false)
	case u.EditedMessage != nil:
		if !s.forwardEdits {
			return in, false
		}
		return messageInbound(in, u.EditedMessage, s, true)
	case u.CallbackQuery != nil:
		return callbackInbound(in, u.CallbackQuery, choice)
	case u.MyChatMember != nil:
		m := u.MyChatMember
		// Only a private chat's "kicked" means the user blocked the bot.
		if !s.endOnBlock || m.Chat.Type != "private" || m.NewChatMember.Status != "kicked" {
			return in, false
		}
		in.event.OccurredAt = unixTime(m.Date)
		in.event.Address = sdk.Address{ChatID: strconv.FormatInt(m.Chat.ID, 10)}
		in.event.Consumer = consumerOf(&m.From)
		in.event.End = &sdk.EndConversation{Reason: "the consumer blocked the Telegram bot"}
		return in, true
	}
	return in, false
}

func messageInbound(in inbound, m *message, s *settings, edited bool) (inbound, bool) {
	if m.From == nil || m.From.IsBot {
		return in, false
	}
	in.event.OccurredAt = unixTime(m.Date)
	if edited && m.EditDate != 0 {
		in.event.OccurredAt = unixTime(m.EditDate)
	}
	in.event.Address = addressOf(m)
	in.event.Consumer = consumerOf(m.From)
	msg := &sdk.Message{ID: strconv.FormatInt(m.MessageID, 10), Edited: edited}
	in.event.Message = msg

	if edited {
		// An edit carries the new text or caption; files are not fetched again.
		msg.Text = m.Text
		if msg.Text == "" {
			msg.Text = m.Caption
		}
		return in, msg.Text != ""
	}
	if m.Text != "" {
		text := strings.TrimSpace(m.Text)
		if cmd, payload, isStart := startCommand(text); isStart {
			msg.Text = cmd
			if s.startText != "" {
				msg.Text = s.startText
			}
			if payload != "" {
				setAttribute(&in.event.Consumer, "start_payload", payload)
			}
			return in, true
		}
		for _, k := range s.endKeywords {
			if strings.EqualFold(text, k) {
				in.event.Message = nil
				in.event.End = &sdk.EndConversation{Reason: fmt.Sprintf("the consumer sent %q on Telegram", k)}
				return in, true
			}
		}
		msg.Text = m.Text
		return in, true
	}
	if ref, ok := fileOf(m); ok {
		ref.caption = m.Caption
		in.files = append(in.files, ref)
		return in, true
	}
	switch {
	case m.Sticker != nil:
		msg.Text = strings.TrimSpace("[sticker] " + m.Sticker.Emoji)
	case m.Location != nil:
		msg.Text = fmt.Sprintf("[location] %.6f, %.6f", m.Location.Latitude, m.Location.Longitude)
	case m.Contact != nil:
		msg.Text = strings.TrimSpace(fmt.Sprintf("[contact] %s %s %s", m.Contact.FirstName, m.Contact.LastName, m.Contact.PhoneNumber))
	default:
		return in, false // service messages, polls, dice ...
	}
	return in, true
}

// startCommand recognises "/start", "/start@bot" and "/start <payload>"
// (deep links put the payload after the command).
func startCommand(text string) (cmd, payload string, ok bool) {
	first, rest, _ := strings.Cut(text, " ")
	name, _, _ := strings.Cut(first, "@")
	if name != "/start" {
		return "", "", false
	}
	return "/start", strings.TrimSpace(rest), true
}

// fileOf picks the file of a media message: the largest photo size, or the
// document, voice, audio, video, video note or animation.
func fileOf(m *message) (fileRef, bool) {
	if len(m.Photo) > 0 {
		best := m.Photo[0]
		for _, p := range m.Photo[1:] {
			if p.Width*p.Height > best.Width*best.Height || (p.Width*p.Height == best.Width*best.Height && p.FileSize > best.FileSize) {
				best = p
			}
		}
		// Telegram re-encodes photos as JPEG.
		return fileRef{fileID: best.FileID, kind: sdk.MediaImage, contentType: "image/jpeg", fileName: "photo_" + nameOr(best.FileUniqueID, best.FileID) + ".jpg"}, true
	}
	type candidate struct {
		f           *fileObject
		kind        sdk.MediaKind
		defaultName string
		defaultType string
	}
	for _, c := range []candidate{
		{m.Document, sdk.MediaFile, "document", "application/octet-stream"},
		{m.Voice, sdk.MediaAudio, "voice.ogg", "audio/ogg"},
		{m.Audio, sdk.MediaAudio, "audio", "audio/mpeg"},
		{m.Video, sdk.MediaVideo, "video.mp4", "video/mp4"},
		{m.VideoNote, sdk.MediaVideo, "video_note.mp4", "video/mp4"},
		{m.Animation, sdk.MediaVideo, "animation.mp4", "video/mp4"},
	} {
		if c.f == nil {
			continue
		}
		ref := fileRef{fileID: c.f.FileID, kind: c.kind, fileName: c.f.FileName, contentType: c.f.MimeType}
		if ref.fileName == "" {
			ref.fileName = c.defaultName
		}
		if ref.contentType == "" {
			ref.contentType = c.defaultType
		}
		return ref, true
	}
	return fileRef{}, false
}

func nameOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func callbackInbound(in inbound, q *callbackQuery, choice func(data, text string) sdk.Choice) (inbound, bool) {
	if q.From.IsBot || q.Data == "" {
		return in, false // game or inline-mode callbacks carry no data
	}
	in.callbackID = q.ID
	in.event.Consumer = consumerOf(&q.From)
	in.event.Address = sdk.Address{ChatID: strconv.FormatInt(q.From.ID, 10)}
	text := q.Data
	if q.Message != nil {
		// An InaccessibleMessage (date 0) still carries its chat.
		in.event.Address = addressOf(q.Message)
		if q.Message.ReplyMarkup != nil {
			for _, row := range q.Message.ReplyMarkup.InlineKeyboard {
				for _, b := range row {
					if b.CallbackData == q.Data {
						text = b.Text
					}
				}
			}
		}
	}
	c := choice(q.Data, text)
	in.event.Message = &sdk.Message{ID: "callback:" + q.ID, Text: c.Text, Choice: &c}
	return in, true
}

func addressOf(m *message) sdk.Address {
	a := sdk.Address{ChatID: strconv.FormatInt(m.Chat.ID, 10)}
	if m.MessageThreadID != 0 {
		a.ThreadID = strconv.FormatInt(m.MessageThreadID, 10)
	}
	return a
}

func consumerOf(u *user) sdk.Consumer {
	c := sdk.Consumer{
		ID:          strconv.FormatInt(u.ID, 10),
		DisplayName: strings.TrimSpace(u.FirstName + " " + u.LastName),
		FirstName:   u.FirstName,
		LastName:    u.LastName,
		Username:    u.Username,
		Locale:      u.LanguageCode,
	}
	if u.Username != "" {
		setAttribute(&c, "telegram_username", "@"+u.Username)
	}
	return c
}

func setAttribute(c *sdk.Consumer, k, v string) {
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	c.Attributes[k] = v
}

func unixTime(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// fetchFiles downloads the files of in with getFile and the file URL. A
// file Telegram will never hand over (too big for bots, or a bad file_id)
// becomes a line of text, so the message still reaches the agent; any
// other failure is returned and the update is retried.
func (a *Adapter) fetchFiles(ctx context.Context, api *botAPI, in *inbound) error {
	msg := in.event.Message
	var notes []string
	for _, ref := range in.files {
		data, err := fetchFile(ctx, api, ref.fileID)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == http.StatusBadRequest {
			a.log.Warn("telegram file cannot be fetched", "event_id", in.event.ID, "err", err)
			note := fmt.Sprintf("[%s %q could not be fetched from Telegram: %s]", ref.kind, ref.fileName, strings.TrimPrefix(ae.Description, "Bad Request: "))
			if ref.caption != "" {
				note += " " + ref.caption
			}
			notes = append(notes, note)
			continue
		}
		if err != nil {
			return fmt.Errorf("fetch %s of update %s: %w", ref.kind, in.event.ID, err)
		}
		msg.Media = append(msg.Media, sdk.Media{Kind: ref.kind, ContentType: ref.contentType, FileName: ref.fileName, Data: data, Caption: ref.caption})
	}
	if len(notes) > 0 {
		msg.Text = strings.TrimSpace(strings.Join(append([]string{msg.Text}, notes...), "\n"))
	}
	return nil
}

func fetchFile(ctx context.Context, api *botAPI, fileID string) ([]byte, error) {
	var f tgFile
	if err := api.call(ctx, "getFile", map[string]string{"file_id": fileID}, &f); err != nil {
		return nil, err
	}
	if f.FilePath == "" {
		return nil, fmt.Errorf("telegram getFile: no file_path for %s", fileID)
	}
	return api.download(ctx, f.FilePath)
}
