package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
)

// relay is the baseline: the same HTTP hops as the core, in plain Go, with
// no store, no plugin process and no queue. A Telegram update is published
// to the consumer's conversation (opened on its first message) before the
// webhook is answered; an agent message in a LiveEngage webhook is sent
// with sendMessage before that webhook is answered.
type relay struct {
	lp           *liveperson.Client
	sendMessage  string // the Telegram emulator's sendMessage URL
	client       *http.Client
	mu           sync.Mutex
	byChat       map[int64]*relayConv
	chatByConvID map[string]int64
}

// relayConv is one chat's conversation, opened by its first message (a
// failed open is tried again by the next, as Telegram retries).
type relayConv struct {
	mu   sync.Mutex
	conv liveperson.Conversation
}

func startRelay(ctx context.Context, o Options, em *emulators, l net.Listener) (*target, error) {
	lp, err := liveperson.New(liveperson.Config{AccountID: accountID, ClientID: clientID, ClientSecret: clientSecret, DomainAPI: em.leURL})
	if err != nil {
		l.Close()
		return nil, err
	}
	r := &relay{lp: lp, sendMessage: em.tgURL + "/bot" + em.tg.Token() + "/sendMessage",
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		byChat: map[int64]*relayConv{}, chatByConvID: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /telegram", r.telegram)
	mux.HandleFunc("POST "+webhookPath, r.liveEngage)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	stop := func() { _ = srv.Close(); lp.Close() }
	// Point the bot's webhook at the relay, as the Telegram adapter does.
	body, _ := json.Marshal(map[string]any{"url": "http://" + l.Addr().String() + "/telegram", "secret_token": tgSecret})
	res, err := r.client.Post(em.tgURL+"/bot"+em.tg.Token()+"/setWebhook", "application/json", bytes.NewReader(body))
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			err = fmt.Errorf("setWebhook answered %s", res.Status)
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	return &target{stop: stop}, nil
}

// conversation opens chat's conversation once.
func (r *relay) conversation(ctx context.Context, chat int64) (liveperson.Conversation, error) {
	r.mu.Lock()
	c, ok := r.byChat[chat]
	if !ok {
		c = &relayConv{}
		r.byChat[chat] = c
	}
	r.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conv.ConversationID != "" {
		return c.conv, nil
	}
	conv, err := r.lp.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: "relay-" + strconv.FormatInt(chat, 10)})
	if err != nil {
		return liveperson.Conversation{}, err
	}
	c.conv = conv
	r.mu.Lock()
	r.chatByConvID[conv.ConversationID] = chat
	r.mu.Unlock()
	return conv, nil
}

func (r *relay) telegram(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("X-Telegram-Bot-Api-Secret-Token") != tgSecret {
		http.Error(w, "bad secret", http.StatusUnauthorized)
		return
	}
	var u struct {
		Message *struct {
			Chat struct {
				ID int64 `json:"id"`
			} `json:"chat"`
			Text string `json:"text"`
		} `json:"message"`
	}
	if err := json.NewDecoder(req.Body).Decode(&u); err != nil || u.Message == nil {
		w.WriteHeader(http.StatusOK) // nothing to relay
		return
	}
	conv, err := r.conversation(req.Context(), u.Message.Chat.ID)
	if err == nil {
		_, err = r.lp.PublishText(req.Context(), conv, u.Message.Text)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError) // Telegram retries
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *relay) liveEngage(w http.ResponseWriter, req *http.Request) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(req.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n, err := liveperson.ParseNotification(buf.Bytes())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, m := range n.Messaging {
		ev, ok := m.Event.(*liveperson.ContentEvent)
		if !ok || m.FromConsumer() || ev.Text == "" {
			continue
		}
		r.mu.Lock()
		chat, ok := r.chatByConvID[m.ConversationOrDialogID()]
		r.mu.Unlock()
		if !ok {
			continue
		}
		body, _ := json.Marshal(map[string]any{"chat_id": chat, "text": ev.Text})
		res, err := r.client.Post(r.sendMessage, "application/json", bytes.NewReader(body))
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("sendMessage answered %s", res.Status)
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable) // LiveEngage retries
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
