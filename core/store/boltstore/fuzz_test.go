package boltstore

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// records are the stored records of schema 1 (testdata/records-v1.txt), one
// a line: the seeds.
func records(f *testing.F) [][]byte {
	f.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "records-v1.txt"))
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		out = append(out, []byte(line))
	}
	return out
}

// sameItem compares items by instant, not by the time's location (JSON
// items carry the offset they were written with; binary ones are UTC).
func sameItem(a, b itemRec) bool {
	if !a.EnqueuedAt.Equal(b.EnqueuedAt) {
		return false
	}
	a.EnqueuedAt, b.EnqueuedAt = time.Time{}, time.Time{}
	if len(a.Payload) == 0 && len(b.Payload) == 0 { // an empty payload reads as none
		a.Payload, b.Payload = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// FuzzItemDecode: whatever bytes a queue item holds (binary, or JSON from
// schema 3 and before), decoding refuses them or gives an item that the
// binary encoding keeps exactly.
func FuzzItemDecode(f *testing.F) {
	for _, r := range records(f) {
		f.Add(r)
	}
	seq := int64(-9)
	f.Add(encodeItem(itemRec{V: 1, Key: "conv", DedupeKey: "d", Sequence: &seq, Payload: []byte("x"), EnqueuedAt: time.Unix(1, 2).UTC(), Attempts: 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeItem(b)
		if err != nil {
			return
		}
		if ns := r.EnqueuedAt.UnixNano(); !time.Unix(0, ns).Equal(r.EnqueuedAt) {
			return // a JSON time outside what int64 nanoseconds hold; never written
		}
		back, err := decodeItem(encodeItem(r))
		if err != nil || !sameItem(back, r) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", r, back, err)
		}
		// Nothing decoded may alias the bytes (bbolt reuses its pages).
		before, _ := decodeItem(bytes.Clone(b))
		for i := range b {
			b[i] ^= 0xff
		}
		if !reflect.DeepEqual(before, r) {
			t.Fatal("the decoded item changed with the bytes it was read from")
		}
	})
}

// FuzzItemEncode: decode(encode(x)) is x for every item the store writes.
func FuzzItemEncode(f *testing.F) {
	f.Add("conv-1", "telegram/99", true, int64(7), int64(1_700_000_000_000_000_000), 2, 1, []byte(`{"text":"hi"}`))
	f.Add("", "", false, int64(0), int64(0), 0, 0, []byte{})
	f.Fuzz(func(t *testing.T, key, dedupe string, hasSeq bool, seq, ns int64, attempts, replays int, payload []byte) {
		r := itemRec{V: recordVersion, Key: key, DedupeKey: dedupe, EnqueuedAt: time.Unix(0, ns).UTC(), Attempts: attempts, Replays: replays, Payload: payload}
		if hasSeq {
			r.Sequence = &seq
		}
		if len(r.Payload) == 0 {
			r.Payload = nil // an empty payload reads as none
		}
		back, err := decodeItem(encodeItem(r))
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", r, back, err)
		}
	})
}

// FuzzRecordDecode: a JSON record of any kind decodes (or is refused:
// wrong version, not JSON) into one that encodes and decodes to itself.
func FuzzRecordDecode(f *testing.F) {
	for _, r := range records(f) {
		for kind := range uint8(4) {
			f.Add(kind, r)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		var rec, again versioned
		switch kind % 4 {
		case 0:
			rec, again = &consumerRec{}, &consumerRec{}
		case 1:
			rec, again = &linkRec{}, &linkRec{}
		case 2:
			rec, again = &choiceRec{}, &choiceRec{}
		default:
			rec, again = &deadRec{}, &deadRec{}
		}
		if decode(b, rec) != nil {
			return
		}
		enc, err := encode(rec)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		if err := decode(enc, again); err != nil {
			t.Fatalf("an encoded record does not decode: %v", err)
		}
		// Compared encoded: an empty map or list and none mean the same
		// and encode alike (omitempty).
		if enc2, _ := encode(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("decode(encode(x)) is not x:\n%s\n%s", enc, enc2)
		}
	})
}
