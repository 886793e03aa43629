package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/leconnect/leconnect/core/bench"
)

// `leconnect bench` runs the core and the bare relay under the same small
// load and reports every figure for both directions (no figure's size is
// asserted: only that it was measured).
func TestBenchCommandReportsEveryFigure(t *testing.T) {
	var out, errOut bytes.Buffer
	profiles := t.TempDir()
	cmd := exec.Command(leconnectBin, "bench", "--messages", "200", "--conversations", "10", "--json", "--dir", t.TempDir(), "--profile", profiles)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("leconnect bench: %v\n%s", err, errOut.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	if rep.Messages != 200 || rep.Conversations != 10 || rep.Store != "bbolt" || len(rep.Directions) != 2 {
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
