package demo

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// Phone is one channel's consumer device on the page: someone typing into
// Telegram, Slack or an SMS app. Each channel emulator gets one; the page
// draws a phone per Phone, so adding a channel needs no page change.
type Phone interface {
	Info() PhoneInfo
	// Start creates the demo user on the channel emulator.
	Start() error
	// Timeline is the chat as the consumer sees it.
	Timeline() Timeline
	// Send sends text as the consumer.
	Send(ctx context.Context, text string) error
	// Press taps a button the business sent.
	Press(ctx context.Context, messageID, data string) error
	// WaitChange blocks until the timeline's Version differs from version.
	WaitChange(ctx context.Context, version string) error
}

// PhoneInfo names a phone on the page.
type PhoneInfo struct {
	Channel string `json:"channel"` // the core's channel name, e.g. "telegram"
	Title   string `json:"title"`   // shown above the phone
	User    string `json:"user"`    // the consumer's display name
}

// Timeline is a phone's chat, oldest first.
type Timeline struct {
	Version  string         `json:"version"`
	Messages []PhoneMessage `json:"messages"`
	// TypingUntil is when the business's typing indicator stops showing
	// (Unix ms); 0 = not typing.
	TypingUntil int64 `json:"typingUntil"`
}

// PhoneMessage is one bubble.
type PhoneMessage struct {
	ID      string        `json:"id"`
	From    string        `json:"from"` // "user" or "business"
	Text    string        `json:"text"`
	Buttons []PhoneButton `json:"buttons,omitempty"`
	// Image is a picture the business sent, as a path relative to the
	// phone's API (media/ID, served by the phone's Media); "" = none.
	Image string `json:"image,omitempty"`
	Time  int64  `json:"time"` // Unix ms
}

// MediaPhone is a Phone whose business messages can carry files the page
// shows (PhoneMessage.Image).
type MediaPhone interface {
	Media(id string) (data []byte, contentType string, ok bool)
}

// PhoneButton is a button under a business message.
type PhoneButton struct {
	Text string `json:"text"`
	Data string `json:"data"`
}

// telegramPhone is a Telegram user chatting with the demo bot, through the
// Telegram emulator's user side.
type telegramPhone struct {
	tg   *tgemu.Emulator
	user tgemu.User

	mu sync.Mutex
	// mine are the user's own bubbles: the emulator lists only what the bot
	// sent. key orders them among the bot's messages (message_id * 2, +1 for
	// a button tap, which has no message of its own).
	mine []keyed
}

type keyed struct {
	key int64
	msg PhoneMessage
}

// The page's Telegram user. Traffic users have other ids (traffic.go).
const demoTelegramUser = 100001

func newTelegramPhone(tg *tgemu.Emulator) *telegramPhone {
	return &telegramPhone{tg: tg, user: tgemu.User{ID: demoTelegramUser, FirstName: "Ann", LastName: "Example", Username: "ann_example", LanguageCode: "en"}}
}

func (p *telegramPhone) Info() PhoneInfo {
	return PhoneInfo{Channel: "telegram", Title: "Telegram", User: p.user.FirstName + " " + p.user.LastName}
}

func (p *telegramPhone) Start() error { return p.tg.AddUser(p.user) }

func (p *telegramPhone) Timeline() Timeline {
	sent := p.tg.Sent(p.user.ID)
	actions := p.tg.ChatActions(p.user.ID)
	p.mu.Lock()
	all := append([]keyed(nil), p.mine...)
	p.mu.Unlock()
	var lastSent int64 = -1
	for _, m := range sent {
		pm := PhoneMessage{ID: strconv.FormatInt(m.MessageID, 10), From: "business", Text: m.Text, Time: m.Date * 1000}
		if pm.Text == "" {
			pm.Text = m.Caption
		}
		if m.Method != "sendMessage" && pm.Text == "" {
			pm.Text = "[" + m.Method + "]"
		}
		if m.ReplyMarkup != nil {
			for _, row := range m.ReplyMarkup.InlineKeyboard {
				for _, b := range row {
					pm.Buttons = append(pm.Buttons, PhoneButton{Text: b.Text, Data: b.CallbackData})
				}
			}
		}
		all = append(all, keyed{m.MessageID * 2, pm})
		lastSent = m.Date
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].key < all[j].key })
	t := Timeline{Messages: make([]PhoneMessage, 0, len(all))}
	for _, k := range all {
		t.Messages = append(t.Messages, k.msg)
	}
	// Telegram shows "typing…" for 5 s, or until the bot's next message.
	if n := len(actions); n > 0 && actions[n-1].Action == "typing" && actions[n-1].At.Unix() > lastSent {
		t.TypingUntil = actions[n-1].At.Add(5 * time.Second).UnixMilli()
	}
	t.Version = fmt.Sprintf("%d.%d.%d", len(all), len(sent), len(actions))
	return t
}

func (p *telegramPhone) Send(_ context.Context, text string) error {
	// The bubble is recorded first: the emulator wakes WaitChange as soon
	// as the message is queued, and the new version must include it.
	p.mu.Lock()
	idx := len(p.mine)
	p.mine = append(p.mine, keyed{msg: PhoneMessage{From: "user", Text: text, Time: time.Now().UnixMilli()}})
	p.mu.Unlock()
	res, err := p.tg.SendText(p.user.ID, text)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.mine = append(p.mine[:idx], p.mine[idx+1:]...)
		return err
	}
	p.mine[idx].key = res.MessageID * 2
	p.mine[idx].msg.ID = strconv.FormatInt(res.MessageID, 10)
	return nil
}

func (p *telegramPhone) Press(_ context.Context, messageID, data string) error {
	id, err := strconv.ParseInt(messageID, 10, 64)
	if err != nil {
		return fmt.Errorf("message id %q: %w", messageID, tgemu.ErrInvalidInput)
	}
	label := data
	for _, m := range p.tg.Sent(p.user.ID) {
		if m.MessageID == id && m.ReplyMarkup != nil {
			for _, row := range m.ReplyMarkup.InlineKeyboard {
				for _, b := range row {
					if b.CallbackData == data {
						label = b.Text
					}
				}
			}
		}
	}
	var last int64
	for _, m := range p.Timeline().Messages {
		if n, err := strconv.ParseInt(m.ID, 10, 64); err == nil && n > last {
			last = n
		}
	}
	tap := PhoneMessage{ID: "tap-" + strconv.FormatInt(time.Now().UnixNano(), 36), From: "user", Text: label, Time: time.Now().UnixMilli()}
	p.mu.Lock()
	p.mine = append(p.mine, keyed{key: last*2 + 1, msg: tap})
	p.mu.Unlock()
	if _, err := p.tg.PressButton(p.user.ID, id, data); err != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, k := range p.mine {
			if k.msg.ID == tap.ID {
				p.mine = append(p.mine[:i], p.mine[i+1:]...)
				break
			}
		}
		return err
	}
	return nil
}

func (p *telegramPhone) WaitChange(ctx context.Context, version string) error {
	return p.tg.Wait(ctx, func() bool { return p.Timeline().Version != version })
}
