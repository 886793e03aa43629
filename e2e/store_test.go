package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// A second daemon started on the store file of a running one (a copy-paste
// of the unit, a second container on the same volume) is refused with an
// error naming the file, and the first goes on as if nothing happened:
// nothing it committed is lost, its admin socket still answers.
func TestSecondDaemonOnTheSameStoreIsRefused(t *testing.T) {
	if os.Getenv(allOnPostgres) == "postgres" {
		t.Skip("the PostgreSQL pass has no store file; several daemons on one database is the cluster, tested there")
	}
	e := newEnv(t, envOptions{Channel: "echo"})
	u := &echoUser{e: e, user: "sam", chat: "chat-sam"}
	u.send(echo.Inbound{Text: "Before the second daemon"})
	conv := e.conversation("sam's first message", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "Before the second daemon"
	})

	cfg, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	second := regexp.MustCompile(`listen: 127\.0\.0\.1:\d+`).ReplaceAll(cfg, fmt.Appendf(nil, "listen: 127.0.0.1:%d", freePort(t)))
	secondPath := filepath.Join(t.TempDir(), "second.yaml")
	if err := os.WriteFile(secondPath, second, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, leconnectBin, "run", "--config", secondPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LE_CLIENT_SECRET=" + clientSecret, "ECHO_TOKEN=" + echoToken,
		"TELEGRAM_BOT_TOKEN=" + e.tg.Token(), "TELEGRAM_SECRET_TOKEN=" + tgSecret}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("second daemon: %v (want it to exit with an error at once)\n%s", err, out)
	}
	storePath := filepath.Join(e.dir, "leconnect.db")
	if !strings.Contains(string(out), storePath) || !strings.Contains(string(out), "another leconnect") {
		t.Fatalf("second daemon's error does not name %s and the other daemon:\n%s", storePath, out)
	}

	// The first daemon: still taking messages both ways, its earlier one
	// kept, and its admin socket (beside the store) still its own.
	u.send(echo.Inbound{Text: "After the second daemon"})
	e.conversation("sam's second message", func(c liveengage.Conversation) bool {
		return c.ID == conv.ID && strings.Join(texts(c, "CONSUMER"), "|") == "Before the second daemon|After the second daemon"
	})
	if _, err := e.le.AgentSend(conv.ID, "Both arrived."); err != nil {
		t.Fatal(err)
	}
	u.waitAction("the agent's answer", func(a echo.Action) bool { return a.Kind == "send" && a.Text == "Both arrived." })
	if out, err := exec.Command(leconnectBin, "dlq", "list", "--config", e.cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("the first daemon's admin socket after the second's attempt: %v\n%s", err, out)
	}
}
