package conversation

import "testing"

func TestHandoff(t *testing.T) {
	h := newHandoff[string](2)
	h.put(1, "a")
	h.put(2, "b")
	if v, ok := h.take(1); !ok || v != "a" {
		t.Fatalf("take(1) = %q, %v", v, ok)
	}
	if _, ok := h.take(1); ok {
		t.Fatal("taken twice")
	}
	h.put(3, "c") // evicts the oldest slot (seq 1, already taken)
	h.put(4, "d") // evicts seq 2, never taken: bounded
	if _, ok := h.take(2); ok {
		t.Fatal("seq 2 should have been evicted")
	}
	for seq, want := range map[uint64]string{3: "c", 4: "d"} {
		if v, ok := h.take(seq); !ok || v != want {
			t.Fatalf("take(%d) = %q, %v", seq, v, ok)
		}
	}
	if len(h.items) != 0 {
		t.Fatalf("left %d entries", len(h.items))
	}
}
