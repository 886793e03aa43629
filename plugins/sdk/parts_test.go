package sdk

import (
	"errors"
	"fmt"
	"testing"
)

func TestPartLedgerResumes(t *testing.T) {
	l := NewPartLedger(2)
	var sent []int
	fail := 2
	send := func(i int) (string, error) {
		if i == fail {
			return "", errors.New("platform down")
		}
		sent = append(sent, i)
		return fmt.Sprint("m", i), nil
	}
	if _, err := l.Send("k", 4, send); err == nil {
		t.Fatal("the failure was not returned")
	}
	fail = -1
	ids, err := l.Send("k", 4, send)
	if err != nil || fmt.Sprint(ids) != "[m0 m1 m2 m3]" || fmt.Sprint(sent) != "[0 1 2 3]" {
		t.Fatalf("retry = %v, %v; sent %v; want every part once", ids, err, sent)
	}
	if ids, _ := l.Send("k", 4, send); fmt.Sprint(ids) != "[m0 m1 m2 m3]" || len(sent) != 4 {
		t.Fatalf("a repeat sent again: %v", sent)
	}
	l.Send("a", 1, send)
	l.Send("b", 1, send) // "k" is forgotten: the ledger keeps 2 keys
	if _, ok := l.entries["k"]; ok {
		t.Fatal("the oldest key was kept beyond max")
	}
}
