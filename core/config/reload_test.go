package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

const validConfig = "server:\n  public_url: https://x.example\nliveengage:\n  account_id: \"1\"\n  client_id: c\n  client_secret: s\nlog:\n  level: %s\nchannels: []\n"

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReloaderKeepsOldConfigOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connector.yaml")
	writeConfig(t, path, fmt.Sprintf(validConfig, "info"))
	r, _, err := NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Current()

	writeConfig(t, path, fmt.Sprintf(validConfig, "loud"))
	c, _, err := r.Reload()
	if err == nil || c != nil {
		t.Fatalf("Reload of an invalid file = %v, %v; want an error", c, err)
	}
	if r.Current() != first || r.Current().Log.Level != "info" {
		t.Errorf("Current changed after a failed reload")
	}

	writeConfig(t, path, fmt.Sprintf(validConfig, "debug"))
	c, _, err = r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "debug" || r.Current() != c {
		t.Errorf("Current = %q, want the reloaded config (debug)", r.Current().Log.Level)
	}
	if first.Log.Level != "info" {
		t.Errorf("the old config was mutated by the reload")
	}
}

func TestReloaderInitialError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connector.yaml")
	writeConfig(t, path, "server: [\n")
	if r, _, err := NewReloader(path); err == nil || r != nil {
		t.Errorf("NewReloader = %v, %v; want an error", r, err)
	}
}

// TestReloaderConcurrent exercises Current during reloads under -race.
func TestReloaderConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connector.yaml")
	writeConfig(t, path, fmt.Sprintf(validConfig, "info"))
	r, _, err := NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 20 {
				if _, _, err := r.Reload(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			if r.Current().Log.Level != "info" {
				t.Error("unexpected config")
			}
		}
	})
	wg.Wait()
}
