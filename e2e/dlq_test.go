package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// A message the adapter refuses for good lands in the dead-letter list, where
// an operator lists, replays and drops it, with the daemon running and stopped.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t, envOptions{Channel: "echo"})
	u := &echoUser{e: e, user: "dora", chat: "chat-dora"}
	u.send(echo.Inbound{Text: "hello"})
	conv := e.conversation("the conversation", func(c liveengage.Conversation) bool {
		return strings.Join(texts(c, "CONSUMER"), "|") == "hello"
	})
	// The echo adapter answers this text with a permanent error.
	if _, err := e.le.AgentSend(conv.ID, "fail:permanent"); err != nil {
		t.Fatal(err)
	}
	dlq := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(leconnectBin, append([]string{"dlq"}, append(args, "--config", e.cfgPath)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("leconnect dlq %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	var listed string
	e.waitFor("the dead letter", func() bool {
		listed = dlq("list")
		return strings.Contains(listed, "recipient blocked the bot")
	})
	if !strings.Contains(listed, "outbound") || !strings.Contains(listed, conv.ID) {
		t.Fatalf("dlq list:\n%s", listed)
	}
	// Replayed, it fails the same way and comes back, counted.
	if out := dlq("replay", "1"); !strings.Contains(out, "replayed 1") {
		t.Fatalf("dlq replay: %s", out)
	}
	e.waitFor("the replayed item to fail again", func() bool {
		l := dlq("list")
		return strings.Contains(l, "\n2 ") && !strings.Contains(l, "\n1 ")
	})
	if l := dlq("list", "--json"); !strings.Contains(l, `"replays": 1`) {
		t.Fatalf("replay count not kept:\n%s", l)
	}
	// With the daemon stopped, the command opens the store itself.
	e.stopCore(syscall.SIGTERM)
	if out := dlq("drop", "2"); !strings.Contains(out, "dropped 2") {
		t.Fatalf("dlq drop: %s", out)
	}
	if l := dlq("list"); strings.Count(l, "\n") != 1 {
		t.Fatalf("dlq list after drop:\n%s", l)
	}
}
