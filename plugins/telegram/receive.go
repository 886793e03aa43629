package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// handleUpdate is the one inbound path of both modes: map the update to an
// event, fetch its files, Deliver it, and only then answer a callback
// query. A nil return means the update may be acknowledged to Telegram
// (answer 200, or advance the polling offset).
func (a *Adapter) handleUpdate(ctx context.Context, api *botAPI, cfg *settings, host sdk.Host, u update) error {
	in, ok := toInbound(u, cfg, a.choices.resolve)
	if !ok {
		a.log.Debug("telegram update ignored", "update_id", u.UpdateID)
		return nil
	}
	if len(in.files) > 0 {
		if err := a.fetchFiles(ctx, api, &in); err != nil {
			return err
		}
	}
	if err := host.Deliver(ctx, in.event); err != nil {
		if sdk.KindOf(err) == sdk.KindPermanent {
			// The core refused the event itself: retrying would block every
			// later update of the bot behind it, so it is dropped, loudly.
			a.log.Error("telegram update refused by the core; dropped", "update_id", u.UpdateID, "err", err)
			return nil
		}
		return fmt.Errorf("deliver update %d: %w", u.UpdateID, err)
	}
	if in.callbackID != "" {
		// Stops the spinner on the user's button. Failure is harmless (the
		// query times out on the user's side), so it is only logged.
		err := api.call(ctx, "answerCallbackQuery", map[string]any{"callback_query_id": in.callbackID}, nil)
		if err != nil {
			a.log.Warn("answer callback query", "update_id", u.UpdateID, "err", err)
		}
	}
	return nil
}

// Backoff between failed polls.
const (
	pollBackoffMin = 500 * time.Millisecond
	pollBackoffMax = 30 * time.Second
)

// pollLease names the cluster-wide lease under which one instance polls:
// Telegram answers 409 to all but the newest of concurrent getUpdates.
const pollLease = "getUpdates"

// pollExclusively polls while this instance holds the polling lease (with
// several instances of the core, the others wait for it) until ctx ends.
// A poller that loses the lease stops at once; the next holder starts from
// the updates not yet confirmed, so none is lost, and the core drops the
// duplicates of those it already has.
func (a *Adapter) pollExclusively(ctx context.Context, api *botAPI, cfg *settings, host sdk.Host) {
	for ctx.Err() == nil {
		err := sdk.RunExclusive(ctx, host, pollLease, func(ctx context.Context) error {
			a.log.Info("telegram polling on this instance")
			a.pollLoop(ctx, api, cfg)
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("telegram polling stopped: this instance no longer holds the polling lease; waiting for it", "err", err)
		_ = sleep(ctx, pollBackoffMin)
	}
}

// pollLoop long-polls getUpdates until ctx ends. The offset is advanced
// past an update only after the core accepted it: on a failure the update
// is fetched again on the next poll (the core drops the duplicates of
// what it already has).
func (a *Adapter) pollLoop(ctx context.Context, api *botAPI, cfg *settings) {
	a.mu.Lock()
	host := a.host
	a.mu.Unlock()
	var offset int64
	backoff := pollBackoffMin
	fail := func(d time.Duration) {
		if d == 0 {
			d = backoff
			backoff = min(backoff*2, pollBackoffMax)
		}
		_ = sleep(ctx, d)
	}
	long := *api
	long.timeout = api.timeout + time.Duration(cfg.pollTimeout)*time.Second
	for ctx.Err() == nil {
		var updates []update
		err := long.call(ctx, "getUpdates", map[string]any{
			"offset":          offset,
			"timeout":         cfg.pollTimeout,
			"allowed_updates": allowedUpdates,
		}, &updates)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if h := pollHealth(err); h != nil {
				a.setHealth(h)
			}
			a.log.Warn("telegram getUpdates failed", "err", err)
			var ae *APIError
			if errors.As(err, &ae) && ae.Code == http.StatusTooManyRequests {
				fail(max(ae.RetryAfter, time.Second))
			} else {
				fail(0)
			}
			continue
		}
		a.setHealth(nil)
		backoff = pollBackoffMin
		for _, u := range updates {
			if err := a.handleUpdate(ctx, api, cfg, host, u); err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Warn("telegram update not accepted; polling it again", "update_id", u.UpdateID, "err", err)
				fail(0)
				break
			}
			offset = u.UpdateID + 1
		}
	}
}

// pollHealth says what a failed getUpdates means for Health: conflicts and
// a refused token need an operator; other failures (network, 5xx) are
// retried and leave Health as it was.
func pollHealth(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return nil
	}
	switch ae.Code {
	case http.StatusConflict:
		return fmt.Errorf("telegram polling blocked by a conflict: %s; either a webhook is set for this bot (remove it with deleteWebhook, or set delete_webhook: true, or use mode: webhook) or another process polls the same bot token (run one instance per bot)", ae.Description)
	case http.StatusUnauthorized, http.StatusNotFound:
		return fmt.Errorf("telegram refused the bot token (%d %s); check bot_token", ae.Code, ae.Description)
	}
	return nil
}
