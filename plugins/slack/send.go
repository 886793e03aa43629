package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Slack's limits (channels.md §2.7, Block Kit).
const (
	maxTextChars     = 4000 // "keep text ≤ 4,000 characters"
	maxSectionChars  = 3000 // a section block's text
	maxButtonLabel   = 75
	maxButtonValue   = 2000
	maxButtonsPerRow = 25 // elements of one actions block
	maxBlocks        = 50
	maxUploadBytes   = 1 << 30
)

// part is one Web API call of an outbound message.
type part struct {
	text    string
	choices []sdk.Choice // rendered as buttons on this part
	media   *sdk.Media
}

// Send delivers one agent message: the file first (files.getUploadURLExternal,
// upload, files.completeUploadExternal), then the text split at 4000
// characters (3000 on the part that carries buttons), buttons and quick
// replies on the last part, all in To.ThreadID's thread when set. A retry
// with the same IdempotencyKey resumes after the parts already sent (the
// SDK's journal covers restarts).
func (a *Adapter) Send(ctx context.Context, msg sdk.OutboundMessage) (sdk.SendResult, error) {
	cfg, api, _, _ := a.snapshot()
	if cfg == nil {
		return sdk.SendResult{}, sdk.NotConnected(errors.New("slack: Send before Configure"))
	}
	if msg.To.ChatID == "" {
		return sdk.SendResult{}, sdk.Permanent(errors.New("slack: no channel id to send to"))
	}
	parts, err := plan(msg)
	if err != nil {
		return sdk.SendResult{}, sdk.Permanent(err)
	}
	ids, err := a.sends.Send(msg.IdempotencyKey, len(parts), func(i int) (string, error) {
		id, err := a.sendPart(ctx, api, msg.To, parts[i], msg.IdempotencyKey, i)
		if err != nil {
			return "", classify(err)
		}
		return id, nil
	})
	if err != nil {
		return sdk.SendResult{}, err
	}
	return sdk.SendResult{MessageIDs: ids}, nil
}

func plan(msg sdk.OutboundMessage) ([]part, error) {
	choices := append(append([]sdk.Choice(nil), msg.Buttons...), msg.QuickReplies...)
	for _, c := range choices {
		if len(c.ID) > maxButtonValue {
			return nil, fmt.Errorf("slack: choice id of %d bytes is over Block Kit's %d for a button value", len(c.ID), maxButtonValue)
		}
	}
	if len(choices) > (maxBlocks-1)*maxButtonsPerRow {
		return nil, fmt.Errorf("slack: %d choices do not fit one message", len(choices))
	}
	var parts []part
	if m := msg.Media; m != nil {
		if len(m.Data) == 0 {
			return nil, errors.New("slack: media has no data")
		}
		if len(m.Data) > maxUploadBytes {
			return nil, fmt.Errorf("slack: file of %d bytes is over the 1 GB upload limit", len(m.Data))
		}
		parts = append(parts, part{media: m})
	}
	limit := maxTextChars
	if len(choices) > 0 {
		limit = maxSectionChars
	}
	for _, chunk := range splitText(msg.Text, limit) {
		parts = append(parts, part{text: chunk})
	}
	if len(choices) > 0 {
		if len(parts) == 0 || parts[len(parts)-1].media != nil {
			parts = append(parts, part{})
		}
		parts[len(parts)-1].choices = choices
	}
	if len(parts) == 0 {
		return nil, errors.New("slack: nothing to send (no text, media or choices)")
	}
	return parts, nil
}

// sendEventType marks, in a message's metadata, the send it came from:
// ResolveSend finds a send in doubt by it.
const sendEventType = "leconnect_send"

func (a *Adapter) sendPart(ctx context.Context, api *webAPI, to sdk.Address, p part, key string, index int) (string, error) {
	if p.media != nil {
		return a.upload(ctx, api, to, p.media)
	}
	if err := api.limits.wait(ctx, "chat.postMessage", to.ChatID); err != nil {
		return "", err
	}
	params := map[string]any{"channel": to.ChatID, "text": escape(p.text)}
	if key != "" {
		params["metadata"] = map[string]any{"event_type": sendEventType, "event_payload": map[string]any{"key": key, "part": index}}
	}
	if to.ThreadID != "" {
		params["thread_ts"] = to.ThreadID
	}
	if len(p.choices) > 0 {
		params["blocks"] = blocks(p.text, p.choices)
		if p.text == "" {
			params["text"] = "Choose an option" // the notification fallback blocks need
		}
	}
	var res struct {
		envelope
		TS string `json:"ts"`
	}
	if err := api.callJSON(ctx, "chat.postMessage", params, &res); err != nil {
		return "", err
	}
	if res.Warning != "" {
		a.log.Warn("slack chat.postMessage warning", "warning", res.Warning)
	}
	return res.TS, nil
}

// blocks renders text as a section and the choices as buttons, 25 per
// actions block. A button's value is the choice id, its action_id unique
// in the message.
func blocks(text string, choices []sdk.Choice) []any {
	var out []any
	if text != "" {
		out = append(out, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": escape(text)}})
	}
	for start := 0; start < len(choices); start += maxButtonsPerRow {
		var els []any
		for i := start; i < min(start+maxButtonsPerRow, len(choices)); i++ {
			c := choices[i]
			label, value := c.Text, c.ID
			if label == "" {
				label = c.ID
			}
			if value == "" {
				value = c.Text
			}
			if utf8.RuneCountInString(label) > maxButtonLabel {
				label = string([]rune(label)[:maxButtonLabel-1]) + "…"
			}
			els = append(els, map[string]any{"type": "button", "action_id": fmt.Sprintf("leconnect_choice_%d", i),
				"text": map[string]any{"type": "plain_text", "text": label, "emoji": true}, "value": value})
		}
		out = append(out, map[string]any{"type": "actions", "block_id": fmt.Sprintf("leconnect_choices_%d", start/maxButtonsPerRow), "elements": els})
	}
	return out
}

// upload shares a file by the external upload flow (§2.8) and returns its
// file id.
func (a *Adapter) upload(ctx context.Context, api *webAPI, to sdk.Address, m *sdk.Media) (string, error) {
	name := m.FileName
	if name == "" {
		name = "file"
	}
	var got struct {
		envelope
		UploadURL string `json:"upload_url"`
		FileID    string `json:"file_id"`
	}
	if err := api.callForm(ctx, "files.getUploadURLExternal", api.token, url.Values{"filename": {name}, "length": {fmt.Sprint(len(m.Data))}}, &got); err != nil {
		return "", err
	}
	if err := a.putFile(ctx, api, got.UploadURL, m); err != nil {
		return "", err
	}
	files, _ := json.Marshal([]map[string]string{{"id": got.FileID, "title": name}})
	params := url.Values{"files": {string(files)}, "channel_id": {to.ChatID}}
	if to.ThreadID != "" {
		params.Set("thread_ts", to.ThreadID)
	}
	if err := api.callForm(ctx, "files.completeUploadExternal", api.token, params, nil); err != nil {
		return "", err
	}
	return got.FileID, nil
}

// putFile is step 2: the raw bytes to upload_url (no token: the URL is
// the credential). Anything but 200 fails the upload.
func (a *Adapter) putFile(ctx context.Context, api *webAPI, uploadURL string, m *sdk.Media) error {
	if u, err := url.Parse(uploadURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("slack upload: files.getUploadURLExternal returned no usable upload_url")
	}
	ctx, cancel := context.WithTimeout(ctx, api.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uploadURL, bytes.NewReader(m.Data))
	if err != nil {
		return fmt.Errorf("slack upload: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := api.http.Do(req)
	if err != nil {
		return fmt.Errorf("slack upload: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("slack upload: HTTP %d", resp.StatusCode)
	}
	return nil
}

// splitText cuts s into chunks of at most limit characters, preferring the
// last line break, then the last space; chunks that would be blank are
// skipped.
func splitText(s string, limit int) []string {
	var out []string
	for utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		window := string(r[:limit])
		cut, skip := len(window), 0
		if i := strings.LastIndex(window, "\n"); i > 0 {
			cut, skip = i, 1
		} else if i := strings.LastIndexFunc(window, unicode.IsSpace); i > 0 {
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
