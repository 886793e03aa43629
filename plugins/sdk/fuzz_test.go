package sdk

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/leconnect/leconnect/proto/leconnect/adapter/v1"
)

// Fuzz targets for the conversions between the wire (what the other
// process sends) and the SDK's Go types: whatever arrives, converting it
// to Go, back to the wire and to Go again gives the same value, so nothing
// is lost or invented by a hop.

func wireSeeds(f *testing.F, msgs ...proto.Message) {
	f.Helper()
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzEventWire: events from Deliver.
func FuzzEventWire(f *testing.F) {
	wireSeeds(f,
		eventToProto(Event{ID: "1", Address: Address{ChatID: "c", ThreadID: "t"}, Consumer: Consumer{ID: "u", DisplayName: "Ann", Attributes: map[string]string{"k": "v"}},
			Message: &Message{ID: "m", Text: "hi", Media: []Media{{Kind: MediaImage, ContentType: "image/png", Data: []byte{1, 2}}}, Choice: &Choice{ID: "yes", Text: "Yes"}}}),
		eventToProto(Event{ID: "2", Receipt: &Receipt{Status: ReceiptRead, MessageIDs: []string{"a", "b"}}}),
		eventToProto(Event{ID: "3", Typing: &Typing{Active: true}}),
		eventToProto(Event{ID: "4", End: &EndConversation{Reason: "blocked"}}),
	)
	f.Fuzz(func(t *testing.T, wire []byte) {
		var in pb.Event
		if proto.Unmarshal(wire, &in) != nil {
			return
		}
		e := eventFromProto(&in)
		b, err := proto.Marshal(eventToProto(e))
		if err != nil {
			t.Fatalf("an event read from the wire does not marshal: %v", err)
		}
		var out pb.Event
		if err := proto.Unmarshal(b, &out); err != nil {
			t.Fatalf("a marshalled event does not unmarshal: %v", err)
		}
		// Compared on the wire: an empty map or list and none are the same there.
		if again := eventFromProto(&out); !proto.Equal(eventToProto(e), eventToProto(again)) {
			t.Fatalf("an event changed on a hop:\n%+v\n%+v", e, again)
		}
	})
}

// FuzzSendWire: Send requests.
func FuzzSendWire(f *testing.F) {
	wireSeeds(f,
		sendToProto(OutboundMessage{IdempotencyKey: "k", To: Address{ChatID: "c"}, Text: "hello",
			Media: &Media{Kind: MediaFile, FileName: "a.pdf", Data: []byte("%PDF")}, QuickReplies: []Choice{{ID: "1", Text: "One"}}, Buttons: []Choice{{ID: "2", Text: "Two"}}}),
	)
	f.Fuzz(func(t *testing.T, wire []byte) {
		var in pb.SendRequest
		if proto.Unmarshal(wire, &in) != nil {
			return
		}
		m := sendFromProto(&in)
		b, err := proto.Marshal(sendToProto(m))
		if err != nil {
			t.Fatalf("a send read from the wire does not marshal: %v", err)
		}
		var out pb.SendRequest
		if err := proto.Unmarshal(b, &out); err != nil {
			t.Fatalf("a marshalled send does not unmarshal: %v", err)
		}
		if again := sendFromProto(&out); !proto.Equal(sendToProto(m), sendToProto(again)) {
			t.Fatalf("a send changed on a hop:\n%+v\n%+v", m, again)
		}
	})
}

// FuzzWebhookHeaders: the platform's headers forwarded to HandleWebhook.
func FuzzWebhookHeaders(f *testing.F) {
	wireSeeds(f, &pb.HandleWebhookRequest{Headers: headersToProto(map[string][]string{"X-Slack-Signature": {"v0=ab"}, "Content-Type": {"application/json"}})})
	f.Fuzz(func(t *testing.T, wire []byte) {
		var in pb.HandleWebhookRequest
		if proto.Unmarshal(wire, &in) != nil {
			return
		}
		h := headersFromProto(in.GetHeaders())
		if again := headersFromProto(headersToProto(h)); !reflect.DeepEqual(h, again) {
			t.Fatalf("headers changed on a hop:\n%v\n%v", h, again)
		}
	})
}
