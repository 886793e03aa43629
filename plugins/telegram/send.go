package telegram

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Telegram's limits (channels.md §1.7). Whether "characters" are UTF-16
// units or code points is UNCONFIRMED; counting UTF-16 units is the safe
// reading (never more code points than units).
const (
	maxTextUnits    = 4096
	maxCaptionUnits = 1024
	maxPhotoBytes   = 10 << 20
	maxUploadBytes  = 50 << 20
	maxCallbackData = 64
)

// part is one Bot API call of an outbound message.
type part struct {
	text     string     // sendMessage text, or the caption of media
	media    *sdk.Media // sendPhoto / sendDocument when set
	keyboard *inlineKeyboardMarkup
}

// Send delivers one agent message: media first (with the text as caption
// when it fits 1024), then the text split at 4096 on line or word
// boundaries, the inline keyboard on the last part. A retry with the same
// IdempotencyKey resumes after the parts already sent and returns their
// ids without sending them again (for as long as this process lives).
func (a *Adapter) Send(ctx context.Context, msg sdk.OutboundMessage) (sdk.SendResult, error) {
	cfg, api, host := a.snapshot()
	if cfg == nil {
		return sdk.SendResult{}, sdk.NotConnected(errors.New("telegram: Send before Configure"))
	}
	if _, err := strconv.ParseInt(msg.To.ChatID, 10, 64); err != nil && !strings.HasPrefix(msg.To.ChatID, "@") {
		return sdk.SendResult{}, sdk.Permanent(fmt.Errorf("telegram: chat id %q is neither a number nor @channelusername", msg.To.ChatID))
	}
	parts, err := a.plan(msg)
	if err != nil {
		return sdk.SendResult{}, sdk.Permanent(err)
	}
	a.stopTyping(msg.To) // Telegram clears "typing…" when the message arrives

	lim := a.rateLimiter()
	ids, err := a.sends.Send(msg.IdempotencyKey, len(parts), func(i int) (string, error) {
		if err := lim.wait(ctx, msg.To.ChatID, cfg.requestTimeout); err != nil {
			return "", fmt.Errorf("telegram: wait for rate limit: %w", err)
		}
		id, err := a.sendPart(ctx, api, msg.To, parts[i])
		if err != nil {
			if isBlocked(err) {
				a.blocked(ctx, cfg, host, msg, err)
				return "", sdk.Permanent(fmt.Errorf("telegram: the user blocked the bot or deleted their account; nothing more can be sent to chat %s: %w", msg.To.ChatID, err))
			}
			return "", classify(err)
		}
		return id, nil
	})
	if err != nil {
		return sdk.SendResult{}, err
	}
	return sdk.SendResult{MessageIDs: ids}, nil
}

// blocked tells the core the conversation is over: LiveEngage should close
// it, since the consumer can no longer be reached. The event id is stable
// for a given message, so retries are deduplicated by the core.
func (a *Adapter) blocked(ctx context.Context, cfg *settings, host sdk.Host, msg sdk.OutboundMessage, cause error) {
	if !cfg.endOnBlock || host == nil {
		return
	}
	ev := sdk.Event{
		ID:       "blocked:" + msg.To.ChatID + ":" + msg.IdempotencyKey,
		Address:  msg.To,
		Consumer: sdk.Consumer{ID: msg.To.ChatID}, // private chats: chat id = user id
		End:      &sdk.EndConversation{Reason: "the consumer blocked the Telegram bot (" + cause.Error() + ")"},
	}
	if err := host.Deliver(ctx, ev); err != nil {
		a.log.Error("deliver end of conversation for a blocked bot", "chat_id", msg.To.ChatID, "err", err)
	}
}

func (a *Adapter) plan(msg sdk.OutboundMessage) ([]part, error) {
	var parts []part
	text := msg.Text
	if m := msg.Media; m != nil {
		if len(m.Data) == 0 {
			return nil, errors.New("telegram: media has no data")
		}
		if len(m.Data) > maxUploadBytes {
			return nil, fmt.Errorf("telegram: file of %d bytes is over the 50 MB upload limit", len(m.Data))
		}
		p := part{media: m}
		if sdk.UTF16Len(text) <= maxCaptionUnits {
			p.text, text = text, ""
		}
		parts = append(parts, p)
	}
	for _, chunk := range splitText(text, maxTextUnits) {
		parts = append(parts, part{text: chunk})
	}
	if len(parts) == 0 && len(msg.Buttons)+len(msg.QuickReplies) > 0 {
		// A card of buttons only: Telegram's keyboards hang under a text.
		parts = append(parts, part{text: choicesOnlyText})
	}
	if len(parts) == 0 {
		return nil, errors.New("telegram: nothing to send (no text and no media)")
	}
	parts[len(parts)-1].keyboard = a.keyboard(msg.Buttons, msg.QuickReplies)
	return parts, nil
}

// keyboard renders structured-content buttons one per row, then quick
// replies up to three per row, all as callback buttons.
func (a *Adapter) keyboard(buttons, quick []sdk.Choice) *inlineKeyboardMarkup {
	if len(buttons)+len(quick) == 0 {
		return nil
	}
	kb := &inlineKeyboardMarkup{}
	for _, c := range buttons {
		kb.InlineKeyboard = append(kb.InlineKeyboard, []inlineKeyboardButton{a.button(c)})
	}
	var row []inlineKeyboardButton
	for _, c := range quick {
		row = append(row, a.button(c))
		if len(row) == 3 {
			kb.InlineKeyboard = append(kb.InlineKeyboard, row)
			row = nil
		}
	}
	if len(row) > 0 {
		kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	}
	return kb
}

func (a *Adapter) button(c sdk.Choice) inlineKeyboardButton {
	text := c.Text
	if text == "" {
		text = c.ID
	}
	return inlineKeyboardButton{Text: text, CallbackData: a.choices.data(c)}
}

func (a *Adapter) sendPart(ctx context.Context, api *botAPI, to sdk.Address, p part) (string, error) {
	var sent sentMessage
	if p.media == nil {
		params := map[string]any{"chat_id": idParam(to.ChatID), "text": p.text}
		if to.ThreadID != "" {
			params["message_thread_id"] = idParam(to.ThreadID)
		}
		if p.keyboard != nil {
			params["reply_markup"] = p.keyboard
		}
		if err := api.call(ctx, "sendMessage", params, &sent); err != nil {
			return "", err
		}
		return strconv.FormatInt(sent.MessageID, 10), nil
	}
	fields := map[string]string{"chat_id": to.ChatID}
	if p.text != "" {
		fields["caption"] = p.text
	}
	if to.ThreadID != "" {
		fields["message_thread_id"] = to.ThreadID
	}
	if p.keyboard != nil {
		kb, err := json.Marshal(p.keyboard)
		if err != nil {
			return "", fmt.Errorf("telegram: encode keyboard: %w", err)
		}
		fields["reply_markup"] = string(kb) // a JSON string in form requests
	}
	method, field := "sendDocument", "document"
	if isPhoto(p.media) {
		method, field = "sendPhoto", "photo"
	}
	if err := api.upload(ctx, method, fields, field, p.media, &sent); err != nil {
		return "", err
	}
	return strconv.FormatInt(sent.MessageID, 10), nil
}

// isPhoto: images Telegram can show inline go by sendPhoto (10 MB limit);
// everything else, including audio and video, by sendDocument.
func isPhoto(m *sdk.Media) bool {
	if m.Kind != sdk.MediaImage || len(m.Data) > maxPhotoBytes {
		return false
	}
	switch strings.ToLower(m.ContentType) {
	case "image/jpeg", "image/jpg", "image/png", "image/gif", "image/webp":
		return true
	}
	return false
}

// idParam sends numeric ids as JSON numbers, the form the Bot API
// documents (chat_id is "Integer or String", the string being @username).
func idParam(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// splitText cuts s into chunks of at most limit UTF-16 units, preferring
// the last line break, then the last space, inside each window; a word
// longer than the limit is cut hard (never inside a code point). The
// separator at a cut is dropped; chunks that would be blank are skipped.
func splitText(s string, limit int) []string {
	var out []string
	for sdk.UTF16Len(s) > limit {
		// end: byte offset of the longest prefix within limit.
		end, units := 0, 0
		for i, r := range s {
			if units+utf16.RuneLen(r) > limit {
				end = i
				break
			}
			units += utf16.RuneLen(r)
		}
		if end == 0 { // limit below one code point: progress anyway
			_, end = utf8.DecodeRuneInString(s)
		}
		window := s[:end]
		cut, skip := end, 0
		if i := strings.LastIndex(window, "\n"); i > 0 {
			cut, skip = i, 1
		} else if i := lastSpace(window); i > 0 {
			_, size := utf8.DecodeRuneInString(window[i:])
			cut, skip = i, size
		}
		if chunk := strings.TrimRightFunc(s[:cut], unicode.IsSpace); chunk != "" {
			out = append(out, chunk)
		}
		s = s[cut+skip:]
	}
	if s = strings.TrimRightFunc(s, unicode.IsSpace); s != "" {
		out = append(out, s)
	}
	return out
}

func lastSpace(s string) int {
	return strings.LastIndexFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

// choicesOnlyText is the text under which a message of buttons only is
// shown: Telegram sends no keyboard without a text, and a pointing hand
// needs no translation.
const choicesOnlyText = "👇"

// choiceStore maps callback_data back to choices whose ids do not fit
// Telegram's 64-byte callback_data: those travel as "h:" plus a hash.
// Short ids travel as they are and need no memory.
type choiceStore struct {
	mu    sync.Mutex
	max   int
	byKey map[string]sdk.Choice
	order []string
}

func newChoiceStore(max int) *choiceStore {
	return &choiceStore{max: max, byKey: map[string]sdk.Choice{}}
}

func (s *choiceStore) data(c sdk.Choice) string {
	id := c.ID
	if id == "" {
		id = c.Text
	}
	if len(id) <= maxCallbackData && !strings.HasPrefix(id, "h:") {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	key := "h:" + base64.RawURLEncoding.EncodeToString(sum[:24])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byKey[key]; !ok {
		s.byKey[key] = sdk.Choice{ID: id, Text: c.Text}
		s.order = append(s.order, key)
		if len(s.order) > s.max {
			delete(s.byKey, s.order[0])
			s.order = s.order[1:]
		}
	}
	return key
}

// resolve returns the choice behind callback data; text is the pressed
// button's label. An unknown hash (the process restarted) falls back to
// the label as the id.
func (s *choiceStore) resolve(data, text string) sdk.Choice {
	if !strings.HasPrefix(data, "h:") {
		return sdk.Choice{ID: data, Text: text}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.byKey[data]; ok {
		c.Text = text
		return c
	}
	return sdk.Choice{ID: text, Text: text}
}
