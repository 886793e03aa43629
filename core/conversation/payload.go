package conversation

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// payloadVersion is written in every queued payload; a binary refuses
// versions it does not know instead of misreading them.
const payloadVersion = 1

// inboundPayload is a channel event waiting to go to LiveEngage.
type inboundPayload struct {
	V       int       `json:"v"`
	Channel string    `json:"channel"`
	Event   sdk.Event `json:"event"`
}

// outboundPayload is one change of a verified LiveEngage notification,
// re-wrapped as a one-change notification body so it is parsed by the same
// code that verified it.
type outboundPayload struct {
	V              int    `json:"v"`
	ConversationID string `json:"conversation_id"`
	// Sequence is the messaging event's LiveEngage sequence, when it has one.
	Sequence *int            `json:"sequence,omitempty"`
	Body     json.RawMessage `json:"body"`
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func decode(raw []byte, v interface{ version() int }) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode queued payload: %w", err)
	}
	if v.version() != payloadVersion {
		return fmt.Errorf("queued payload version %d is not supported by this binary (want %d)", v.version(), payloadVersion)
	}
	return nil
}

func (p *inboundPayload) version() int  { return p.V }
func (p *outboundPayload) version() int { return p.V }

// receiptsKeySuffix puts a consumer's receipts in their own order key.
const receiptsKeySuffix = "\x00receipts"

// identityKey orders a consumer's inbound events.
func identityKey(channel, consumerID string) string { return channel + "\x00" + consumerID }

// inboundDedupeKey turns a platform's retry of an event into a duplicate.
func inboundDedupeKey(channel, eventID string) string { return channel + "\x00" + eventID }

// externalIDPrefix marks the metadata id leconnect attaches to what it
// publishes for a consumer, so LiveEngage's echo of the event can be
// recognised as ours.
const externalIDPrefix = "lc1-"

// externalID names an inbound item in LiveEngage metadata (at most 64
// characters, per the metadata guide).
func externalID(channel, eventID string) string {
	sum := sha256.Sum256([]byte(inboundDedupeKey(channel, eventID)))
	return externalIDPrefix + base64.RawURLEncoding.EncodeToString(sum[:24])
}

// extConsumerID is the consumer id LiveEngage knows a channel identity by:
// stable, opaque (no platform ids or phone numbers leave the connector in
// it), and the same after a restart.
func extConsumerID(channel, consumerID string) string {
	sum := sha256.Sum256([]byte(identityKey(channel, consumerID)))
	return "lc-" + base64.RawURLEncoding.EncodeToString(sum[:18])
}
