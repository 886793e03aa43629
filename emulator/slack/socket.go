package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// socketConn is one Socket Mode WebSocket.
type socketConn struct {
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	ctrl   chan []byte // frames other than envelopes (disconnect)
}

// connectionsOpen answers apps.connections.open with a single-use ticket URL (§2.5).
func (e *Emulator) connectionsOpen(w http.ResponseWriter) {
	e.mu.Lock()
	ticket := e.nextIDLocked("ticket-")
	e.tickets[ticket] = true
	base := e.publicURL
	e.mu.Unlock()
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/link/?ticket=" + ticket
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "url": wsURL})
}

func (e *Emulator) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	e.mu.Lock()
	valid := e.tickets[ticket]
	delete(e.tickets, ticket)
	e.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	sc := &socketConn{conn: c, ctx: ctx, cancel: cancel, ctrl: make(chan []byte, 4)}
	e.mu.Lock()
	select {
	case <-e.done:
		e.mu.Unlock()
		cancel()
		c.CloseNow()
		return
	default:
	}
	e.sockets[sc] = struct{}{}
	e.socketsOpened++
	n := len(e.sockets)
	e.notifyLocked()
	e.wg.Add(1)
	e.mu.Unlock()
	defer e.wg.Done()
	defer e.dropSocket(sc)

	hello, _ := json.Marshal(map[string]any{"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "applink-emulator", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": e.opts.AppID}})
	if c.Write(ctx, websocket.MessageText, hello) != nil {
		return
	}
	go e.readAcks(sc)
	e.writeLoop(sc)
}

// dropSocket forgets sc and puts what it had in flight back in the queue.
func (e *Emulator) dropSocket(sc *socketConn) {
	sc.cancel()
	sc.conn.CloseNow()
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.sockets, sc)
	for _, env := range e.socketQueue {
		if env.sentTo == sc {
			env.sentTo = nil
			env.attempt++
			env.reason = "connection_closed"
			env.id = e.envelopeIDLocked()
		}
	}
	e.notifyLocked()
}

// readAcks reads {"envelope_id": ...} acknowledgements.
func (e *Emulator) readAcks(sc *socketConn) {
	defer sc.cancel()
	for {
		_, data, err := sc.conn.Read(sc.ctx)
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		e.mu.Lock()
		for i, env := range e.socketQueue {
			if env.id == ack.EnvelopeID {
				env.d.Acked = true
				env.d.Attempts[env.index].Acked = true
				env.response = ack.Payload
				e.socketQueue = append(e.socketQueue[:i:i], e.socketQueue[i+1:]...)
				break
			}
		}
		e.notifyLocked()
		e.mu.Unlock()
	}
}

// writeLoop sends queued envelopes no other socket holds, and sends again
// those unacknowledged for AckTimeout.
func (e *Emulator) writeLoop(sc *socketConn) {
	for {
		e.mu.Lock()
		var frames [][]byte
		now := time.Now()
		next := now.Add(time.Hour)
		for _, env := range e.socketQueue {
			if env.sentTo != nil {
				if env.sentTo != sc || now.Sub(env.sentAt) < e.opts.AckTimeout {
					next = minTime(next, env.sentAt.Add(e.opts.AckTimeout))
					continue
				}
				env.attempt++ // Slack retries unacknowledged envelopes
				env.reason = "timeout"
				env.id = e.envelopeIDLocked()
			}
			env.sentTo, env.sentAt = sc, now
			next = minTime(next, now.Add(e.opts.AckTimeout))
			env.index = len(env.d.Attempts)
			env.d.Attempts = append(env.d.Attempts, Attempt{RetryNum: env.attempt, Reason: env.reason, At: now})
			f, _ := json.Marshal(map[string]any{"envelope_id": env.id, "payload": env.d.Payload, "type": env.d.Kind,
				"accepts_response_payload": env.d.Kind == "interactive", "retry_attempt": env.attempt, "retry_reason": env.reason})
			frames = append(frames, f)
		}
		changed := e.changed
		e.mu.Unlock()
		for _, f := range frames {
			if sc.conn.Write(sc.ctx, websocket.MessageText, f) != nil {
				return
			}
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-changed:
		case <-t.C:
		case f := <-sc.ctrl:
			t.Stop()
			_ = sc.conn.Write(sc.ctx, websocket.MessageText, f)
			_ = sc.conn.Close(websocket.StatusNormalClosure, "disconnect")
			return
		case <-sc.ctx.Done():
			t.Stop()
			return
		case <-e.done:
			t.Stop()
			_ = sc.conn.Close(websocket.StatusGoingAway, "emulator closed")
			return
		}
		t.Stop()
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// DisconnectSockets sends every socket a disconnect frame with reason
// (warning, refresh_requested, link_disabled, too_many_websockets) and
// closes it, as Slack does before it refreshes a connection (§2.5).
func (e *Emulator) DisconnectSockets(reason string) int {
	frame, _ := json.Marshal(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "wss-emulator"}})
	e.mu.Lock()
	defer e.mu.Unlock()
	for sc := range e.sockets {
		select {
		case sc.ctrl <- frame:
		default:
		}
	}
	return len(e.sockets)
}

// DropSockets cuts every socket without a frame, like a network failure.
func (e *Emulator) DropSockets() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for sc := range e.sockets {
		sc.cancel()
		sc.conn.CloseNow()
	}
	return len(e.sockets)
}

// SocketsOpened returns how many Socket Mode connections were ever opened.
func (e *Emulator) SocketsOpened() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.socketsOpened
}

// Sockets returns how many Socket Mode connections are open.
func (e *Emulator) Sockets() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sockets)
}
