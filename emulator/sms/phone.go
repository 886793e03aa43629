package sms

import (
	"fmt"
	"strings"
	"time"
)

// Sent is what happened when a phone sent a message: the provider's ids
// (one per part for a long Vonage message) and each webhook delivery.
type Sent struct {
	IDs        []string   `json:"ids"`
	Deliveries []Delivery `json:"deliveries"`
}

// Standard replies to carrier keywords (§3.7: Twilio sends them itself on
// long codes and toll-free numbers). The wording is the emulator's.
const (
	replySTOP  = "You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe."
	replySTART = "You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe."
	replyHELP  = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)

// PhoneSend makes phone (E.164) send text, and for Twilio numbers media
// as an MMS, to the service number to. It returns once the provider's
// webhook requests are answered. Single-word STOP/START/HELP keywords are
// handled as Twilio does (opt-out per number pair, standard reply) and
// still forwarded.
func (e *Emulator) PhoneSend(phone, to, text string, media ...Media) (Sent, error) {
	if !e164.MatchString(phone) {
		return Sent{}, fmt.Errorf("phone %q is not E.164: %w", phone, ErrInvalidInput)
	}
	if strings.TrimSpace(text) == "" && len(media) == 0 {
		return Sent{}, fmt.Errorf("empty message: %w", ErrInvalidInput)
	}
	e.mu.Lock()
	n, ok := e.numbers[to]
	e.mu.Unlock()
	if !ok {
		return Sent{}, fmt.Errorf("number %s: %w", to, ErrUnknownNumber)
	}
	if n.Provider == Vonage && len(media) > 0 {
		return Sent{}, fmt.Errorf("the Vonage SMS API carries no media: %w", ErrInvalidInput)
	}
	if len(media) > 10 {
		return Sent{}, fmt.Errorf("at most 10 media: %w", ErrInvalidInput)
	}
	select {
	case <-e.done:
		return Sent{}, ErrClosed
	default:
	}
	if n.Provider == Twilio {
		e.keyword(n, phone, text)
		d, err := e.twilioInbound(n, phone, text, media)
		if err != nil {
			return Sent{}, err
		}
		return Sent{IDs: []string{d.ID}, Deliveries: []Delivery{d}}, nil
	}
	ds, ids := e.vonageInbound(n, phone, text)
	return Sent{IDs: ids, Deliveries: ds}, nil
}

// keyword applies Twilio's default opt-out handling: only a message that
// is exactly one keyword counts.
func (e *Emulator) keyword(n Number, phone, text string) {
	w := strings.ToUpper(strings.TrimSpace(text))
	var reply string
	e.mu.Lock()
	defer e.mu.Unlock()
	key := n.Number + "|" + phone
	switch w {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT":
		e.optOut[key], reply = true, replySTOP
	case "START", "YES", "UNSTOP":
		if e.optOut[key] {
			reply = replySTART
		}
		delete(e.optOut, key)
	case "HELP", "INFO":
		reply = replyHELP
	default:
		return
	}
	if reply != "" {
		e.receiveLocked(phone, &Message{Provider: Twilio, ID: newID("SM", 32, false), From: n.Number, To: phone,
			Text: reply, Status: "delivered", At: time.Now().UTC(), AutoReply: true})
	}
}
