package demo

import (
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/emulator/liveengage"
)

// The demo serves the page and its API, carries a consumer message through
// the real adapter and core into LiveEngage, plays traffic that shows in
// /metrics, and on cancel leaves no adapter process and no temporary file.
func TestDemoRunsAndStopsClean(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the process check reads /proc")
	}
	d := startDemo(t)

	if out := d.stdout.String(); strings.Count(out, "http://") != 1 || !strings.Contains(out, d.url) {
		t.Errorf("stdout should be one line with the URL %s, got %q", d.url, out)
	}
	res, err := http.Get(d.url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `<script src="app.js">`) {
		t.Fatalf("GET / = %d:\n%s", res.StatusCode, page)
	}
	for _, path := range []string{"/app.js", "/style.css", "/emulator/"} {
		if code := d.get(path, nil); code != http.StatusOK {
			t.Errorf("GET %s = %d", path, code)
		}
	}
	var info infoResp
	d.get("/demo/api/info", &info)
	if len(info.Phones) != 1 || info.Phones[0].Channel != "telegram" || !strings.HasSuffix(info.MetricsURL, "/metrics") {
		t.Fatalf("info = %+v", info)
	}

	// The adapter runs out of process.
	waitFor(t, "the telegram adapter process", func() bool { return len(adapterChildren(t)) > 0 })

	// A consumer message reaches LiveEngage through adapter and core.
	var tl Timeline
	if code := d.post("/demo/api/phones/telegram/send", map[string]string{"text": "Hello from the test"}, &tl); code != http.StatusOK {
		t.Fatalf("send = %d", code)
	}
	if n := len(tl.Messages); n != 1 || tl.Messages[0].From != "user" || tl.Messages[0].Text != "Hello from the test" {
		t.Fatalf("phone timeline after send: %+v", tl)
	}
	var conv liveengage.Conversation
	waitFor(t, "the message in LiveEngage", func() bool {
		var convs []liveengage.Conversation
		d.get("/emulator/api/conversations", &convs)
		for _, c := range convs {
			if len(c.Messages) > 0 && c.Messages[0].Text == "Hello from the test" {
				conv = c
				return true
			}
		}
		return false
	})
	// ... and the agent's answer reaches the phone.
	if code := d.post("/emulator/api/conversations/"+conv.ID+"/messages", map[string]string{"text": "Hello from the agent"}, nil); code != http.StatusOK {
		t.Fatalf("agent send = %d", code)
	}
	waitFor(t, "the agent's answer on the phone", func() bool {
		d.get("/demo/api/phones/telegram", &tl)
		n := len(tl.Messages)
		return n == 2 && tl.Messages[1].From == "business" && tl.Messages[1].Text == "Hello from the agent"
	})

	// Traffic: scripted consumers and agent put load on the core.
	var tr trafficResp
	d.post("/demo/api/traffic", map[string]bool{"on": true}, &tr)
	if !tr.On {
		t.Fatalf("traffic after switching on: %+v", tr)
	}
	waitFor(t, "traffic in the core's metrics", func() bool {
		var ms []Metric
		d.get("/demo/api/metrics", &ms)
		for _, m := range ms {
			// Ann's one message plus at least one scripted consumer's.
			if m.Name == "leconnect_messages_in_total" && m.Value >= 3 {
				return true
			}
		}
		return false
	})

	// Ctrl-C.
	if err := d.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if pids := adapterChildren(t); len(pids) > 0 {
		t.Errorf("adapter processes left after stop: %v", pids)
	}
	left, err := os.ReadDir(d.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in the temporary root: %s", e.Name())
	}
	for _, k := range []string{"LECONNECT_DEMO_LE_CLIENT_SECRET", "LECONNECT_DEMO_TELEGRAM_BOT_TOKEN"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Errorf("%s still set after stop", k)
		}
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	self, _ := os.Executable()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no executable", Options{}, "executable is required"},
		{"bad listen address", Options{SelfExe: self, Listen: "127.0.0.1:notaport"}, "listen on 127.0.0.1:notaport"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.TempRoot = t.TempDir()
			err := Run(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
			}
			if left, _ := os.ReadDir(tc.opts.TempRoot); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

func TestConversationsAreLimited(t *testing.T) {
	d := startDemo(t)
	d.post("/demo/api/traffic", map[string]bool{"on": true}, nil)
	var all []liveengage.Conversation
	waitFor(t, "four traffic conversations", func() bool {
		d.get("/emulator/api/conversations", &all)
		return len(all) >= 4
	})
	d.post("/demo/api/traffic", map[string]bool{"on": false}, nil)
	oldest := all[0].ID
	var got conversationsResp
	d.get("/demo/api/conversations?limit=2&include="+oldest, &got)
	if got.Total < 4 || len(got.Conversations) != 3 {
		t.Fatalf("limit=2 plus include: total %d, %d conversations", got.Total, len(got.Conversations))
	}
	if got.Conversations[0].StartTs < got.Conversations[1].StartTs || got.Conversations[2].ID != oldest {
		t.Errorf("want newest first and the included oldest last: %s, %s, %s", got.Conversations[0].ID, got.Conversations[1].ID, got.Conversations[2].ID)
	}
}
