package conversation

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/leconnect/leconnect/core/liveperson"
)

// TestHandedParseMatchesStoredPayload: what the webhook hands a worker is
// what the worker would read from the stored payload, for every sample
// notification (the handoff must never change what is delivered).
func TestHandedParseMatchesStoredPayload(t *testing.T) {
	files, err := filepath.Glob("../liveperson/testdata/webhook-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	handed := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		changes, _, err := outboundMessages(body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, c := range changes {
			if c.parsed == nil {
				continue
			}
			handed++
			var p outboundPayload
			if err := decode(c.msg.Payload, &p); err != nil {
				t.Fatalf("%s change %d: %v", f, i, err)
			}
			stored, err := liveperson.ParseNotification(p.Body)
			if err != nil {
				t.Fatalf("%s change %d: stored payload does not parse: %v", f, i, err)
			}
			if !reflect.DeepEqual(stored, c.parsed) {
				t.Errorf("%s change %d: handed %+v, stored payload parses to %+v", f, i, c.parsed, stored)
			}
			if (p.Sequence == nil) != (c.msg.Sequence == nil) || p.Sequence != nil && int64(*p.Sequence) != *c.msg.Sequence {
				t.Errorf("%s change %d: payload sequence %v, item sequence %v", f, i, p.Sequence, c.msg.Sequence)
			}
			if p.ConversationID != c.msg.Key {
				t.Errorf("%s change %d: payload conversation %q, key %q", f, i, p.ConversationID, c.msg.Key)
			}
		}
	}
	if handed == 0 {
		t.Fatal("no sample was handed over")
	}
}
