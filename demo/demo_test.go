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
	for _, path := range []string{"/app.js", "/style.css", "/emulator/", "/emulator/workspace.js", "/emulator/workspace.css"} {
		if code := d.get(path, nil); code != http.StatusOK {
			t.Errorf("GET %s = %d", path, code)
		}
	}
	var info infoResp
	d.get("/demo/api/info", &info)
	var channels []string
	for _, p := range info.Phones {
		channels = append(channels, p.Channel)
	}
	if strings.Join(channels, ",") != "telegram,slack,sms" || !strings.HasSuffix(info.MetricsURL, "/metrics") {
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

	// Slack and SMS: the same round trip through their adapters.
	for _, ch := range []string{"slack", "sms"} {
		text := "Hello from the " + ch + " phone"
		if code := d.post("/demo/api/phones/"+ch+"/send", map[string]string{"text": text}, &tl); code != http.StatusOK {
			t.Fatalf("%s send = %d", ch, code)
		}
		var id string
		waitFor(t, ch+" message in LiveEngage", func() bool {
			var convs []liveengage.Conversation
			d.get("/emulator/api/conversations", &convs)
			for _, c := range convs {
				if len(c.Messages) > 0 && c.Messages[0].Text == text {
					id = c.ID
					return true
				}
			}
			return false
		})
		answer := "Hello " + ch + ", from the agent"
		if code := d.post("/emulator/api/conversations/"+id+"/messages", map[string]string{"text": answer}, nil); code != http.StatusOK {
			t.Fatalf("agent send to %s = %d", ch, code)
		}
		waitFor(t, "the agent's answer on the "+ch+" phone", func() bool {
			d.get("/demo/api/phones/"+ch, &tl)
			n := len(tl.Messages)
			return n == 2 && tl.Messages[0].From == "user" && tl.Messages[1].From == "business" && tl.Messages[1].Text == answer
		})
	}

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
			// The three phones' messages plus at least one scripted consumer's.
			if m.Name == "leconnect_messages_in_total" && m.Value >= 5 {
				return true
			}
		}
		return false
	})

	// Scripted consumers play on every channel: players 0-3 are on
	// Telegram (orders #1xxx-#4xxx), 4-5 on Slack (#5xxx, #6xxx), 6-7 on
	// SMS (#7xxx, #8xxx).
	waitFor(t, "traffic conversations from every channel", func() bool {
		var convs []liveengage.Conversation
		d.get("/emulator/api/conversations", &convs)
		seen := map[string]bool{}
		for _, c := range convs {
			if len(c.Messages) > 0 && c.Messages[0].Role == liveengage.RoleConsumer && strings.HasPrefix(c.Messages[0].Text, trafficOpener) {
				seen[c.Messages[0].Text[len(trafficOpener):][:1]] = true
			}
		}
		return seen["1"] && seen["5"] && seen["7"]
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
	for k := range secretEnv {
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
