package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestJournalSurvivesReopenAndTornLines(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	j, err := openJournal(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 { // concurrent records share fsyncs and all land
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.record(fmt.Sprint("k", i), []string{fmt.Sprint("m", i)}, now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := j.record("old", []string{"x"}, now.Add(-journalTTL-time.Hour)); err != nil {
		t.Fatal(err)
	}
	j.close()
	// A crash mid-write leaves a torn last line.
	f, err := os.OpenFile(filepath.Join(dir, "send-journal.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"k":"torn","ids":["`)
	f.Close()

	j2, err := openJournal(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.close()
	for i := range 50 {
		ids, ok := j2.lookup(fmt.Sprint("k", i))
		if !ok || len(ids) != 1 || ids[0] != fmt.Sprint("m", i) {
			t.Fatalf("k%d = %v, %v after reopen", i, ids, ok)
		}
	}
	if _, ok := j2.lookup("torn"); ok {
		t.Fatal("a torn entry was loaded")
	}
	if _, ok := j2.lookup("old"); ok {
		t.Fatal("an entry past its TTL was kept")
	}
	if err := j2.record("after", []string{"y"}, now); err != nil {
		t.Fatalf("appending after compaction: %v", err)
	}
}

// A second process must wait for the journal until the first releases it.
func TestJournalIsExclusive(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockFile(filepath.Join(dir, "send-journal.lock"), 50*time.Millisecond); err == nil {
		t.Fatal("the journal's lock was taken twice")
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	l, err := lockFile(filepath.Join(dir, "send-journal.lock"), 50*time.Millisecond)
	if err != nil {
		t.Fatalf("lock after close: %v", err)
	}
	l.Close()
}
