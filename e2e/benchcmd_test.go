package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/leconnect/leconnect/core/bench"
	"github.com/leconnect/leconnect/core/store/pgstore/pgtest"
)

// `leconnect bench` runs the core and the bare relay under the same small
// load and reports every figure for both directions (no figure's size is
// asserted: only that it was measured).
func TestBenchCommandReportsEveryFigure(t *testing.T) {
	t.Run("flood", func(t *testing.T) { benchReportsEveryFigure(t, 0) })
	t.Run("paced", func(t *testing.T) { benchReportsEveryFigure(t, 400) })
}

func benchReportsEveryFigure(t *testing.T, rate float64) {
	var out, errOut bytes.Buffer
	profiles := t.TempDir()
	cmd := exec.Command(leconnectBin, "bench", "--messages", "200", "--conversations", "10", "--json", "--dir", t.TempDir(), "--profile", profiles,
		"--rate", strconv.FormatFloat(rate, 'f', -1, 64))
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("leconnect bench: %v\n%s", err, errOut.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	if rep.Messages != 200 || rep.Conversations != 10 || rep.Store != "bbolt" || rep.Rate != rate || len(rep.Directions) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for i, name := range []string{"inbound", "outbound"} {
		for _, f := range []string{"cpu-" + name + "-1.pprof", "heap-" + name + ".pprof"} {
			if fi, err := os.Stat(filepath.Join(profiles, f)); err != nil || fi.Size() == 0 {
				t.Errorf("--profile wrote no %s: %v", f, err)
			}
		}
		d := rep.Directions[i]
		figures := map[string]float64{
			"core msg/s": d.Core.MsgsPerSec, "core p50": d.Core.P50Ms, "core p99": d.Core.P99Ms, "core p999": d.Core.P999Ms,
			"relay msg/s": d.Relay.MsgsPerSec, "relay p50": d.Relay.P50Ms, "relay p99": d.Relay.P99Ms, "relay p999": d.Relay.P999Ms,
			"ratio": d.Ratio, "core CPU per message": d.CoreCPUMsPerMsg, "core allocations per message": d.CoreAllocsPerMsg,
			"store commits per message": d.StoreCommitsPerMsg, "adapter CPU per message": d.AdapterCPUMsPerMsg,
			"core webhook p99": d.Core.WebhookP99Ms, "relay webhook p99": d.Relay.WebhookP99Ms,
			"load CPU (core run)": d.Core.LoadCPUMsPerMsg, "load CPU (relay run)": d.Relay.LoadCPUMsPerMsg,
		}
		if d.Name != name {
			t.Errorf("direction %d is %q, want %q", i, d.Name, name)
		}
		for what, v := range figures {
			if !(v > 0) {
				t.Errorf("%s: %s is %v; it was not measured", name, what, v)
			}
		}
	}
}

// `leconnect bench --idle N` starts the core with the three built-in
// adapters on an empty store and on one holding N conversations, and
// reports every figure (their sizes are not asserted; memory per
// conversation may even come out negative, within the noise).
func TestBenchIdleReportsEveryFigure(t *testing.T) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(leconnectBin, "bench", "--idle", "300", "--json", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("leconnect bench --idle: %v\n%s", err, errOut.String())
	}
	var rep bench.IdleReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	if rep.Conversations != 300 {
		t.Fatalf("report %+v", rep)
	}
	for name, run := range map[string]bench.IdleRun{"empty": rep.Empty, "full": rep.Full} {
		figures := map[string]float64{"cold start": run.ColdStartMs, "RSS": float64(run.RSSBytes), "anonymous RSS": float64(run.RSSAnonBytes),
			"file RSS": float64(run.RSSFileBytes), "adapters RSS": float64(run.AdaptersRSSBytes), "store bytes": float64(run.StoreBytes),
			"store bytes in use": float64(run.StoreInUseBytes)}
		for what, v := range figures {
			if !(v > 0) {
				t.Errorf("%s store: %s is %v; it was not measured", name, what, v)
			}
		}
	}
	if !(rep.StoreBytesPerConversation > 0) || !(rep.StoreInUseBytesPerConversation > 0) {
		t.Errorf("store bytes per conversation %v, in use %v", rep.StoreBytesPerConversation, rep.StoreInUseBytesPerConversation)
	}
	var raw map[string]any
	_ = json.Unmarshal(out.Bytes(), &raw)
	for _, k := range []string{"ram_per_conversation_bytes", "heap_per_conversation_bytes"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %s in the report", k)
		}
	}
}

// `leconnect bench --store postgres` runs in a schema of its own each time:
// a second run on the same database measures its own messages (the
// emulators' ids start afresh, so a shared store took them for duplicates).
func TestBenchOnPostgresRunsTwice(t *testing.T) {
	dsn := pgtest.DSN(t)
	for run := range 2 {
		var out, errOut bytes.Buffer
		cmd := exec.Command(leconnectBin, "bench", "--store", "postgres", "--dsn", dsn, "--messages", "100", "--conversations", "5", "--json", "--dir", t.TempDir())
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d: leconnect bench: %v\n%s", run+1, err, errOut.String())
		}
		var rep bench.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Store != "postgres" || len(rep.Directions) != 2 || !(rep.Directions[0].StoreRoundTripsPerMsg > 0) {
			t.Fatalf("run %d: report %s (%v)", run+1, out.String(), err)
		}
	}
}
