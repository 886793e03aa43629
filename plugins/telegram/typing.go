package telegram

import (
	"context"
	"errors"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// maxTyping stops a typing indicator whose "stopped" never came.
const maxTyping = 2 * time.Minute

type typingLoop struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has exited
}

func typingKey(to sdk.Address) string { return to.ChatID + "/" + to.ThreadID }

// SetTyping shows "typing…" while active: Telegram shows a chat action for
// at most 5 seconds, so it is repeated every typing_interval (4 s) until
// SetTyping(false), a Send to the chat, Close, or two minutes. Telegram has
// no call to hide it early; it fades within 5 s of the last repeat.
func (a *Adapter) SetTyping(ctx context.Context, to sdk.Address, active bool) error {
	a.stopTyping(to)
	if !active {
		return nil
	}
	cfg, api, _ := a.snapshot()
	a.mu.Lock()
	life := a.life
	a.mu.Unlock()
	if cfg == nil || life == nil {
		return sdk.NotConnected(errors.New("telegram: SetTyping before Start"))
	}
	if err := a.chatAction(ctx, api, to); err != nil {
		return classify(err)
	}
	loopCtx, cancel := context.WithTimeout(life, maxTyping)
	t := &typingLoop{cancel: cancel, done: make(chan struct{})}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		cancel()
		return sdk.NotConnected(errors.New("telegram: adapter is closing"))
	}
	old := a.typing[typingKey(to)]
	a.typing[typingKey(to)] = t
	a.wg.Add(1) // under mu, so never after Close started waiting
	a.mu.Unlock()
	if old != nil {
		old.stop() // a concurrent SetTyping(true) got here first; replace it
	}
	go func() {
		defer a.wg.Done()
		defer close(t.done)
		defer a.forgetTyping(to, t)
		ticker := time.NewTicker(cfg.typingInterval)
		defer ticker.Stop()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-ticker.C:
			}
			if err := a.chatAction(loopCtx, api, to); err != nil {
				if loopCtx.Err() == nil {
					a.log.Warn("repeat typing indicator", "chat_id", to.ChatID, "err", err)
				}
				return
			}
		}
	}()
	return nil
}

func (a *Adapter) chatAction(ctx context.Context, api *botAPI, to sdk.Address) error {
	params := map[string]any{"chat_id": idParam(to.ChatID), "action": "typing"}
	if to.ThreadID != "" {
		params["message_thread_id"] = idParam(to.ThreadID)
	}
	return api.call(ctx, "sendChatAction", params, nil)
}

// stopTyping ends the chat's typing loop and waits for it to exit, so no
// chat action is sent after SetTyping(false) returned.
func (a *Adapter) stopTyping(to sdk.Address) {
	a.mu.Lock()
	t := a.typing[typingKey(to)]
	delete(a.typing, typingKey(to))
	a.mu.Unlock()
	if t != nil {
		t.stop()
	}
}

func (t *typingLoop) stop() {
	t.cancel()
	<-t.done
}

// forgetTyping drops t when its loop ends by itself, unless it was replaced.
func (a *Adapter) forgetTyping(to sdk.Address, t *typingLoop) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t.cancel()
	if a.typing[typingKey(to)] == t {
		delete(a.typing, typingKey(to))
	}
}
