package demo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// traffic plays scripted consumers on Telegram and an agent answering them
// in LiveEngage, one step per tick while switched on, so the live view and
// the core's /metrics show load. Every step goes through the real path:
// Telegram emulator → adapter → core → LiveEngage emulator and back.
type traffic struct {
	le       *liveengage.Emulator
	tg       *tgemu.Emulator
	interval time.Duration

	on    atomic.Bool
	wake  chan struct{}
	steps atomic.Int64

	mu      sync.Mutex
	players []*player
	next    int
}

// trafficUsers is how many scripted consumers take turns.
const trafficUsers = 8

// player is one scripted consumer and its conversation with the agent.
type player struct {
	user  tgemu.User
	round int    // which order this round is about
	step  int    // position in the script
	conv  string // its LiveEngage conversation id, once found
	waits int    // turns spent waiting for the conversation or the CSAT question
}

func newTraffic(le *liveengage.Emulator, tg *tgemu.Emulator, interval time.Duration) *traffic {
	t := &traffic{le: le, tg: tg, interval: interval, wake: make(chan struct{}, 1)}
	names := []string{"Ben", "Chloé", "Dmitri", "Elif", "Farah", "Gustavo", "Hana", "Iker"}
	for i := range trafficUsers {
		t.players = append(t.players, &player{user: tgemu.User{ID: int64(200001 + i), FirstName: names[i%len(names)], LastName: "(traffic)"}})
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
	p := t.players[t.next]
	t.next = (t.next + 1) % len(t.players)
	t.mu.Unlock()
	if p.step == 0 && p.round == 0 {
		if err := t.tg.AddUser(p.user); err != nil {
			return
		}
	}
	order := 1000 + int(p.user.ID%1000)*100 + p.round
	opener := fmt.Sprintf("Hi, where is my order #%d?", order)
	var err error
	switch p.step {
	case 0:
		_, err = t.tg.SendText(p.user.ID, opener)
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
			_, err = t.le.AgentSend(p.conv, fmt.Sprintf("Hello %s, let me check order #%d.", p.user.FirstName, order))
		}
	case 2:
		_, err = t.tg.SendText(p.user.ID, "Thank you!")
	case 3:
		_, err = t.le.AgentSend(p.conv, "It ships tomorrow. Anything else?")
	case 4:
		_, err = t.tg.SendText(p.user.ID, "No, that's all.")
	case 5:
		err = t.le.AgentClose(p.conv, false)
	case 6:
		// The answer to the CSAT question the core asks after the close,
		// once it has arrived: sent earlier, it would open a new
		// conversation instead. After a few turns without it, move on.
		sent := t.tg.Sent(p.user.ID)
		if len(sent) == 0 || sent[len(sent)-1].Text != csatPrompt {
			if p.waits++; p.waits < 5 {
				return
			}
			break
		}
		_, err = t.tg.SendText(p.user.ID, fmt.Sprint(3+p.round%3))
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
