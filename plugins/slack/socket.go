package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/coder/websocket"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Socket Mode (channels.md §2.5): apps.connections.open with the app token
// gives a one-time wss URL; the first frame is hello; events arrive in
// envelopes that are acknowledged with {"envelope_id"} once the core stored
// them (an unacknowledged envelope is sent again by Slack, and the core
// drops the duplicate by event id); a disconnect frame or a broken
// connection makes the adapter connect again.

const (
	socketReadLimit = 8 << 20
	pingEvery       = 30 * time.Second
	backoffMax      = 30 * time.Second
)

type socketConn struct {
	conn *websocket.Conn
}

func (c *socketConn) close() { _ = c.conn.Close(websocket.StatusNormalClosure, "") }

// frame is any Socket Mode frame.
type frame struct {
	Type         string          `json:"type"`
	Reason       string          `json:"reason"`
	EnvelopeID   string          `json:"envelope_id"`
	Payload      json.RawMessage `json:"payload"`
	RetryAttempt int             `json:"retry_attempt"`
	RetryReason  string          `json:"retry_reason"`
}

// connect opens one connection and waits for its hello.
func (a *Adapter) connect(ctx context.Context, cfg *settings, api *webAPI) (*socketConn, error) {
	var open struct {
		envelope
		URL string `json:"url"`
	}
	if err := api.callForm(ctx, "apps.connections.open", cfg.appToken, url.Values{}, &open); err != nil {
		return nil, classify(err)
	}
	if _, err := url.Parse(open.URL); err != nil || open.URL == "" {
		return nil, errors.New("apps.connections.open returned no usable url")
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.requestTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, open.URL, &websocket.DialOptions{HTTPClient: a.httpClient})
	if err != nil {
		return nil, fmt.Errorf("dial socket mode url: %w", err)
	}
	conn.SetReadLimit(socketReadLimit)
	_, data, err := conn.Read(dctx)
	var hello frame
	if err == nil {
		err = json.Unmarshal(data, &hello)
	}
	if err == nil && hello.Type != "hello" {
		err = fmt.Errorf("first frame is %q, not hello", hello.Type)
	}
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("socket mode hello: %w", err)
	}
	return &socketConn{conn: conn}, nil
}

// socketLoop serves connections until ctx ends, reconnecting after a
// disconnect frame at once and after a failure with backoff.
func (a *Adapter) socketLoop(ctx context.Context, cfg *settings, api *webAPI, c *socketConn) {
	backoff := cfg.reconnectBackoff
	for ctx.Err() == nil {
		if c == nil {
			var err error
			c, err = a.connect(ctx, cfg, api)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				a.setHealth(sdk.NotConnected(fmt.Errorf("slack socket mode: not connected: %w", err)))
				a.log.Warn("slack socket mode connection failed", "err", err, "retry_in", backoff)
				wait := backoff
				if d, ok := sdk.RetryDelay(err); ok {
					wait = max(wait, d)
				}
				_ = sleep(ctx, wait)
				backoff = min(backoff*2, backoffMax)
				continue
			}
		}
		a.setHealth(nil)
		backoff = cfg.reconnectBackoff
		reason, err := a.serveConn(ctx, c)
		c = nil
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.setHealth(sdk.NotConnected(fmt.Errorf("slack socket mode: connection lost: %w", err)))
			a.log.Warn("slack socket mode connection lost; reconnecting", "err", err)
			_ = sleep(ctx, backoff)
			continue
		}
		a.log.Info("slack socket mode disconnect requested; reconnecting", "reason", reason)
	}
}

// serveConn reads frames until a disconnect frame (returned as reason) or
// an error. Envelopes are handled in order, each acked after delivery.
func (a *Adapter) serveConn(ctx context.Context, c *socketConn) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.conn.CloseNow()
	go func() { // pings find a dead connection that reads would wait on forever
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, pingEvery)
				err := c.conn.Ping(pctx)
				pcancel()
				if err != nil {
					c.conn.CloseNow()
					return
				}
			}
		}
	}()
	for {
		_, data, err := c.conn.Read(ctx)
		if err != nil {
			return "", err
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			a.log.Warn("slack socket mode frame is not JSON; ignored")
			continue
		}
		switch f.Type {
		case "hello":
			continue
		case "disconnect":
			c.close()
			return f.Reason, nil
		}
		if f.EnvelopeID == "" {
			continue
		}
		var herr error
		switch f.Type {
		case "events_api":
			herr = a.handleCallback(ctx, f.Payload)
		case "interactive":
			herr = a.handleInteraction(ctx, f.Payload)
		default: // slash_commands and others: acknowledged, not handled
			a.log.Debug("slack socket mode envelope ignored", "type", f.Type)
		}
		if herr != nil && !errors.Is(herr, errMalformed) {
			// Not acknowledged: Slack sends the envelope again.
			a.log.Error("slack event not accepted; left unacknowledged for Slack to retry", "retry_attempt", f.RetryAttempt, "err", herr)
			continue
		}
		ack, _ := json.Marshal(map[string]string{"envelope_id": f.EnvelopeID})
		if err := c.conn.Write(ctx, websocket.MessageText, ack); err != nil {
			return "", fmt.Errorf("ack envelope: %w", err)
		}
	}
}
