package demo

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	slackemu "github.com/leconnect/leconnect/emulator/slack"
)

// slackPhone is a Slack user in a DM with the demo app, through the Slack
// emulator's user side. Slack apps have no typing indicator, so the phone
// never shows one.
type slackPhone struct {
	sl   *slackemu.Emulator
	user slackemu.User
	dm   string

	mu sync.Mutex
	// mine are the user's own bubbles (the emulator lists only what the app
	// posted), keyed by Slack ts in microseconds to order them among the
	// app's posts.
	mine []keyed
}

// The page's Slack user. Traffic users have other ids (traffic.go).
const demoSlackUser = "U0DEMOBEA"

func newSlackPhone(sl *slackemu.Emulator) *slackPhone {
	return &slackPhone{sl: sl, user: slackemu.User{ID: demoSlackUser, Name: "Bea Example", RealName: "Bea Example"}, dm: sl.DM(demoSlackUser)}
}

func (p *slackPhone) Info() PhoneInfo {
	return PhoneInfo{Channel: "slack", Title: "Slack", User: p.user.RealName}
}

func (p *slackPhone) Start() error { return p.sl.AddUser(p.user) }

// tsMicros turns a Slack ts ("1700000000.123456") into microseconds.
func tsMicros(ts string) int64 {
	sec, frac, _ := strings.Cut(ts, ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return s*1e6 + f
}

// blockButtons lists the buttons of a message's actions blocks.
func blockButtons(blocks []any) []PhoneButton {
	var out []PhoneButton
	for _, b := range blocks {
		block, _ := b.(map[string]any)
		if block["type"] != "actions" {
			continue
		}
		els, _ := block["elements"].([]any)
		for _, el := range els {
			btn, _ := el.(map[string]any)
			if btn["type"] != "button" {
				continue
			}
			text, _ := btn["text"].(map[string]any)
			label, _ := text["text"].(string)
			value, _ := btn["value"].(string)
			if value == "" {
				value, _ = btn["action_id"].(string)
			}
			out = append(out, PhoneButton{Text: label, Data: value})
		}
	}
	return out
}

// blockText is the text of a message's section blocks, for a post whose
// text is empty.
func blockText(blocks []any) string {
	var parts []string
	for _, b := range blocks {
		block, _ := b.(map[string]any)
		if text, ok := block["text"].(map[string]any); ok && block["type"] == "section" {
			if s, _ := text["text"].(string); s != "" {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, "\n")
}

func (p *slackPhone) Timeline() Timeline {
	posted := p.sl.Posted(p.dm)
	p.mu.Lock()
	all := append([]keyed(nil), p.mine...)
	p.mu.Unlock()
	for _, m := range posted {
		if m.Deleted {
			continue
		}
		key := tsMicros(m.TS)
		pm := PhoneMessage{ID: m.TS, From: "business", Text: m.Text, Buttons: blockButtons(m.Blocks), Time: key / 1000}
		if pm.Text == "" {
			pm.Text = blockText(m.Blocks)
		}
		for _, f := range m.Files {
			if strings.HasPrefix(f.Mimetype, "image/") && pm.Image == "" {
				pm.Image = "media/" + f.ID
			} else if pm.Text == "" {
				pm.Text = "[" + f.Name + "]"
			}
		}
		all = append(all, keyed{key, pm})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].key < all[j].key })
	t := Timeline{Messages: make([]PhoneMessage, 0, len(all))}
	for _, k := range all {
		t.Messages = append(t.Messages, k.msg)
	}
	last := ""
	if n := len(posted); n > 0 {
		last = posted[n-1].TS
	}
	t.Version = fmt.Sprintf("%d.%d.%s", len(all), len(posted), last)
	return t
}

func (p *slackPhone) Send(_ context.Context, text string) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("empty message: %w", slackemu.ErrInvalidInput)
	}
	res, err := p.sl.PostMessage(slackemu.UserMessage{User: p.user.ID, Text: text})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := tsMicros(res.TS)
	p.mine = append(p.mine, keyed{key, PhoneMessage{ID: res.TS, From: "user", Text: text, Time: key / 1000}})
	return nil
}

func (p *slackPhone) Press(_ context.Context, messageID, data string) error {
	label := data
	for _, m := range p.sl.Posted(p.dm) {
		if m.TS == messageID {
			for _, b := range blockButtons(m.Blocks) {
				if b.Data == data {
					label = b.Text
				}
			}
		}
	}
	if _, err := p.sl.PressButton(p.user.ID, p.dm, messageID, data); err != nil {
		return err
	}
	// A click is no message in Slack: the bubble only shows the choice,
	// after everything on screen now.
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mine = append(p.mine, keyed{now.UnixMicro(), PhoneMessage{ID: "tap-" + strconv.FormatInt(now.UnixNano(), 36), From: "user", Text: label, Time: now.UnixMilli()}})
	return nil
}

func (p *slackPhone) Media(id string) ([]byte, string, bool) { return p.sl.FileData(id) }

func (p *slackPhone) WaitChange(ctx context.Context, version string) error {
	return p.sl.Wait(ctx, func() bool { return p.Timeline().Version != version })
}
