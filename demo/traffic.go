package demo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	slackemu "github.com/leconnect/leconnect/emulator/slack"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// traffic plays scripted consumers on Telegram, Slack and SMS and an agent
// answering them in LiveEngage, one step per tick while switched on, so the
// live view and the core's /metrics show load. Every step goes through the
// real path: channel emulator → adapter → core → LiveEngage emulator and
// back.
type traffic struct {
	le       *liveengage.Emulator
	interval time.Duration

	on    atomic.Bool
	wake  chan struct{}
	steps atomic.Int64

	mu      sync.Mutex
	players []*player
	next    int
}

// trafficOpener starts every scripted conversation; the page can hide
// conversations that begin with it.
const trafficOpener = "Hi, where is my order #"

// consumerLine is how a scripted consumer talks on its channel.
type consumerLine interface {
	// join makes the consumer known to the channel, once.
	join() error
	send(text string) error
	// lastReceived is the text of the business's newest message.
	lastReceived() string
}

// player is one scripted consumer and its conversation with the agent.
type player struct {
	name   string
	line   consumerLine
	index  int
	joined bool
	round  int    // which order this round is about
	step   int    // position in the script
	conv   string // its LiveEngage conversation id, once found
	waits  int    // turns spent waiting for the conversation or the CSAT question
}

// trafficChannels are the emulators the scripted consumers use; nil ones
// get no players.
type trafficChannels struct {
	tg  *tgemu.Emulator
	sl  *slackemu.Emulator
	sms *smsemu.Emulator
}

func newTraffic(le *liveengage.Emulator, ch trafficChannels, interval time.Duration) *traffic {
	t := &traffic{le: le, interval: interval, wake: make(chan struct{}, 1)}
	add := func(name string, line consumerLine) {
		t.players = append(t.players, &player{name: name, line: line, index: len(t.players)})
	}
	if ch.tg != nil {
		for i, name := range []string{"Ben", "Chloé", "Dmitri", "Elif"} {
			add(name, &telegramLine{tg: ch.tg, user: tgemu.User{ID: int64(200001 + i), FirstName: name, LastName: "(traffic)"}})
		}
	}
	if ch.sl != nil {
		for i, name := range []string{"Farah", "Gustavo"} {
			id := fmt.Sprintf("U0TRAFFIC%d", i+1)
			add(name, &slackLine{sl: ch.sl, user: slackemu.User{ID: id, Name: name + " (traffic)", RealName: name + " (traffic)"}})
		}
	}
	if ch.sms != nil {
		for i, name := range []string{"Hana", "Iker"} {
			add(name, &smsLine{sms: ch.sms, phone: fmt.Sprintf("+1415555300%d", i+1)})
		}
	}
	return t
}

// set switches traffic on or off.
func (t *traffic) set(on bool) {
	t.on.Store(on)
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *traffic) run(ctx context.Context) {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		if !t.on.Load() {
			select {
			case <-ctx.Done():
				return
			case <-t.wake:
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		case <-tick.C:
			t.step()
		}
	}
}

// step advances the next player by one line of its script. A step that
// cannot happen yet (the conversation has not reached LiveEngage) is
// retried on the player's next turn.
func (t *traffic) step() {
	t.mu.Lock()
	if len(t.players) == 0 {
		t.mu.Unlock()
		return
	}
	p := t.players[t.next]
	t.next = (t.next + 1) % len(t.players)
	t.mu.Unlock()
	if !p.joined {
		if err := p.line.join(); err != nil {
			return
		}
		p.joined = true
	}
	// Order numbers tell players apart: #1xxx for the first, #2xxx for
	// the second ...
	order := 1000*(p.index+1) + p.round
	opener := fmt.Sprintf("%s%d?", trafficOpener, order)
	var err error
	switch p.step {
	case 0:
		err = p.line.send(opener)
	case 1:
		p.conv = t.find(opener)
		if p.conv == "" {
			if p.waits++; p.waits < 20 {
				return
			}
			err = fmt.Errorf("order #%d never reached LiveEngage", order)
			break
		}
		if err = t.le.AgentTyping(p.conv, "COMPOSING"); err == nil {
			_, err = t.le.AgentSend(p.conv, fmt.Sprintf("Hello %s, let me check order #%d.", p.name, order))
		}
	case 2:
		err = p.line.send("Thank you!")
	case 3:
		_, err = t.le.AgentSend(p.conv, "It ships tomorrow. Anything else?")
	case 4:
		err = p.line.send("No, that's all.")
	case 5:
		err = t.le.AgentClose(p.conv, false)
	case 6:
		// The answer to the CSAT question the core asks after the close,
		// once it has arrived: sent earlier, it would open a new
		// conversation instead. After a few turns without it, move on.
		if p.line.lastReceived() != csatPrompt {
			if p.waits++; p.waits < 5 {
				return
			}
			break
		}
		err = p.line.send(fmt.Sprint(3 + p.round%3))
	}
	p.waits = 0
	t.steps.Add(1)
	if err != nil {
		// A conversation closed under the script (someone pressed Close
		// on the page) or lost: start a new round.
		p.step, p.conv, p.waits = 0, "", 0
		p.round++
		return
	}
	p.step++
	if p.step > 6 {
		p.step, p.conv = 0, ""
		p.round++
	}
}

// find returns the open conversation with the consumer message text (each
// opener names its own order number, so it is unique).
func (t *traffic) find(text string) string {
	convs := t.le.Conversations()
	for i := len(convs) - 1; i >= 0; i-- {
		c := convs[i]
		if c.State != "OPEN" {
			continue
		}
		for _, m := range c.Messages {
			if m.Role == liveengage.RoleConsumer && m.Text == text {
				return c.ID
			}
		}
	}
	return ""
}

type telegramLine struct {
	tg   *tgemu.Emulator
	user tgemu.User
}

func (l *telegramLine) join() error { return l.tg.AddUser(l.user) }
func (l *telegramLine) send(text string) error {
	_, err := l.tg.SendText(l.user.ID, text)
	return err
}
func (l *telegramLine) lastReceived() string {
	sent := l.tg.Sent(l.user.ID)
	if len(sent) == 0 {
		return ""
	}
	return sent[len(sent)-1].Text
}

type slackLine struct {
	sl   *slackemu.Emulator
	user slackemu.User
}

func (l *slackLine) join() error { return l.sl.AddUser(l.user) }
func (l *slackLine) send(text string) error {
	_, err := l.sl.PostMessage(slackemu.UserMessage{User: l.user.ID, Text: text})
	return err
}
func (l *slackLine) lastReceived() string {
	posted := l.sl.Posted(l.sl.DM(l.user.ID))
	if len(posted) == 0 {
		return ""
	}
	return posted[len(posted)-1].Text
}

type smsLine struct {
	sms   *smsemu.Emulator
	phone string
}

func (l *smsLine) join() error { return nil }
func (l *smsLine) send(text string) error {
	sent, err := l.sms.PhoneSend(l.phone, demoSMSNumber, text)
	if err != nil {
		return err
	}
	for _, d := range sent.Deliveries {
		if d.StatusCode/100 != 2 {
			return fmt.Errorf("sms webhook answered %d: %s", d.StatusCode, strings.TrimSpace(d.Body))
		}
	}
	return nil
}
func (l *smsLine) lastReceived() string {
	got := l.sms.Received(l.phone)
	if len(got) == 0 {
		return ""
	}
	return got[len(got)-1].Text
}
