package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The local walkthrough in docs/emulator.md, run as written: the
// emulators and the connector from the command line, the consumer and the
// agent with curl. Only the three addresses are changed, to free ports.
func TestLocalWalkthrough(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "emulator.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- walkthrough:begin -->\n```sh\n")
	block, _, ok2 := strings.Cut(rest, "```\n<!-- walkthrough:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/emulator.md has no walkthrough block between its markers")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the walkthrough needs curl")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -eu\n"+block)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(leconnectBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		fmt.Sprintf("LE=127.0.0.1:%d", freePort(t)), fmt.Sprintf("TG=127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("CORE=127.0.0.1:%d", freePort(t)))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Ann received the agent's answer") {
		log, _ := os.ReadFile(filepath.Join(dir, "leconnect.log"))
		t.Fatalf("the walkthrough did not end as documented: %v\n%s\nleconnect.log:\n%s", err, out, log)
	}
}
