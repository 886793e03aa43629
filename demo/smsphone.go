package demo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	smsemu "github.com/leconnect/leconnect/emulator/sms"
)

// smsPhone is a mobile phone texting the demo's Twilio number, through the
// SMS emulator's phone side. SMS has no buttons: the adapter sends options
// as numbered lines, and the phone offers each as a tap that texts its
// number back.
type smsPhone struct {
	sms     *smsemu.Emulator
	phone   string // the consumer, E.164
	service string // the demo's Twilio number

	mu      sync.Mutex
	mine    []keyed // the phone's own texts, keyed by Unix ns
	changed chan struct{}
}

// The page's phone and the demo's Twilio number. Traffic phones have other
// numbers (traffic.go).
const (
	demoSMSPhone  = "+14155552671"
	demoSMSNumber = "+14155550100"
)

func newSMSPhone(sms *smsemu.Emulator) *smsPhone {
	return &smsPhone{sms: sms, phone: demoSMSPhone, service: demoSMSNumber, changed: make(chan struct{})}
}

func (p *smsPhone) Info() PhoneInfo {
	return PhoneInfo{Channel: "sms", Title: "SMS", User: p.phone}
}

// Start has nothing to do: any phone can text a number, which Run has
// already set up with its webhook.
func (p *smsPhone) Start() error { return nil }

// numbered matches an option line as the SMS adapter writes it: "2. Blue".
var numbered = regexp.MustCompile(`^([0-9]{1,2})\. (.+)$`)

// options reads the numbered lines at the end of a text as buttons.
func options(text string) []PhoneButton {
	lines := strings.Split(text, "\n")
	var out []PhoneButton
	for i := len(lines) - 1; i > 0; i-- {
		m := numbered.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		out = append([]PhoneButton{{Text: m[2], Data: m[1]}}, out...)
	}
	return out
}

func (p *smsPhone) Timeline() Timeline { return p.timeline(p.sms.Received(p.phone)) }

func (p *smsPhone) timeline(received []smsemu.Message) Timeline {
	p.mu.Lock()
	all := append([]keyed(nil), p.mine...)
	p.mu.Unlock()
	for _, m := range received {
		pm := PhoneMessage{ID: m.ID, From: "business", Text: m.Text, Buttons: options(m.Text), Time: m.At.UnixMilli()}
		for i, md := range m.Media {
			if strings.HasPrefix(md.ContentType, "image/") && pm.Image == "" {
				pm.Image = "media/" + m.ID + "-" + strconv.Itoa(i)
			}
		}
		all = append(all, keyed{m.At.UnixNano(), pm})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].key < all[j].key })
	t := Timeline{Messages: make([]PhoneMessage, 0, len(all))}
	for _, k := range all {
		t.Messages = append(t.Messages, k.msg)
	}
	t.Version = fmt.Sprintf("%d.%d", len(all), len(received))
	return t
}

func (p *smsPhone) Send(_ context.Context, text string) error {
	now := time.Now()
	id := "me-" + strconv.FormatInt(now.UnixNano(), 36)
	// The bubble shows before the webhook is answered, as on a phone.
	p.note(func() {
		p.mine = append(p.mine, keyed{now.UnixNano(), PhoneMessage{ID: id, From: "user", Text: text, Time: now.UnixMilli()}})
	})
	if _, err := p.sms.PhoneSend(p.phone, p.service, text); err != nil {
		p.note(func() {
			for i, k := range p.mine {
				if k.msg.ID == id {
					p.mine = append(p.mine[:i], p.mine[i+1:]...)
					break
				}
			}
		})
		return err
	}
	return nil
}

// note changes mine under the lock and wakes WaitChange.
func (p *smsPhone) note(change func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change()
	close(p.changed)
	p.changed = make(chan struct{})
}

// Press texts the option's number, as someone answering an SMS menu does.
func (p *smsPhone) Press(ctx context.Context, _, data string) error {
	if _, err := strconv.Atoi(data); err != nil {
		return fmt.Errorf("option %q is not a number: %w", data, smsemu.ErrInvalidInput)
	}
	return p.Send(ctx, data)
}

// Media serves an image a message brought: id is "<message id>-<index>".
func (p *smsPhone) Media(id string) ([]byte, string, bool) {
	cut := strings.LastIndexByte(id, '-')
	if cut < 0 {
		return nil, "", false
	}
	i, err := strconv.Atoi(id[cut+1:])
	if err != nil || strconv.Itoa(i) != id[cut+1:] { // one spelling per index
		return nil, "", false
	}
	for _, m := range p.sms.Received(p.phone) {
		if m.ID == id[:cut] && i >= 0 && i < len(m.Media) {
			return m.Media[i].Data, m.Media[i].ContentType, true
		}
	}
	return nil, "", false
}

func (p *smsPhone) WaitChange(ctx context.Context, version string) error {
	for {
		p.mu.Lock()
		mine := p.changed
		p.mu.Unlock()
		received := p.sms.Received(p.phone)
		if p.timeline(received).Version != version {
			return nil
		}
		wctx, cancel := context.WithCancel(ctx)
		got := make(chan error, 1)
		go func() {
			_, err := p.sms.WaitReceived(wctx, p.phone, len(received)+1)
			got <- err
		}()
		var err error
		select {
		case <-mine:
		case err = <-got:
		case <-ctx.Done():
		}
		cancel()
		if errors.Is(err, smsemu.ErrClosed) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
