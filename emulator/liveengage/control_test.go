package liveengage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCompareDoc makes sure the field-by-field comparison used by the
// sample tests does fail on every kind of difference.
func TestCompareDoc(t *testing.T) {
	doc := `{"a":1,"b":{"c":"x","d":[1,2]},"e":[{"f":true}]}`
	for _, tc := range []struct {
		name, got string
		vary      []string
		ok        bool
	}{
		{"equal", `{"e":[{"f":true}],"b":{"d":[1,2],"c":"x"},"a":1}`, nil, true},
		{"value", `{"a":2,"b":{"c":"x","d":[1,2]},"e":[{"f":true}]}`, nil, false},
		{"value varies", `{"a":2,"b":{"c":"x","d":[1,2]},"e":[{"f":true}]}`, []string{"a"}, true},
		{"type", `{"a":"1","b":{"c":"x","d":[1,2]},"e":[{"f":true}]}`, []string{"a"}, false},
		{"missing", `{"a":1,"b":{"d":[1,2]},"e":[{"f":true}]}`, nil, false},
		{"extra", `{"a":1,"z":0,"b":{"c":"x","d":[1,2]},"e":[{"f":true}]}`, nil, false},
		{"extra allowed", `{"a":1,"z":0,"b":{"c":"x","d":[1,2]},"e":[{"f":true,"g":1}]}`, []string{"+z", "+e[*].g"}, true},
		{"other extra not allowed", `{"a":1,"y":0,"b":{"c":"x","d":[1,2]},"e":[{"f":true}]}`, []string{"+z"}, false},
		{"length", `{"a":1,"b":{"c":"x","d":[1]},"e":[{"f":true}]}`, nil, false},
		{"nested array value", `{"a":1,"b":{"c":"x","d":[1,2]},"e":[{"f":false}]}`, nil, false},
		{"nested array value varies", `{"a":1,"b":{"c":"x","d":[1,2]},"e":[{"f":false}]}`, []string{"e[*].f"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeT{TB: t}
			compareDoc(ft, []byte(doc), []byte(tc.got), tc.vary...)
			if ft.failed == tc.ok {
				t.Errorf("compareDoc failed=%v, want %v", ft.failed, !tc.ok)
			}
		})
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Helper()               {}

func TestControlAPI(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("ext-consumer-1")
	conv := h.open(jws)
	h.sendText(jws, conv, "hello")
	api := func(method, path, body string) response {
		return h.do(method, "/emulator/api/"+path, map[string]string{"Content-Type": "application/json"}, []byte(body))
	}

	// The two endpoints used by external checks, exactly.
	r := api("POST", "conversations/"+conv+"/messages", `{"text":"hi there"}`)
	if r.status != 200 || string(r.body) != `{"sequence":1}` {
		t.Fatalf("agent message: %d %s", r.status, r.body)
	}
	r = api("GET", "conversations", "")
	if r.status != 200 {
		t.Fatalf("list: %d", r.status)
	}
	var list []map[string]json.RawMessage
	mustJSON(t, r.body, &list)
	if len(list) != 1 {
		t.Fatalf("%d conversations", len(list))
	}
	el := list[0]
	var id, state, consumer string
	mustJSON(t, el["id"], &id)
	mustJSON(t, el["state"], &state)
	mustJSON(t, el["consumerId"], &consumer)
	if id != conv || state != "OPEN" || consumer != "ext-consumer-1" {
		t.Errorf("id %s state %s consumerId %s", id, state, consumer)
	}
	var msgs []map[string]any
	mustJSON(t, el["messages"], &msgs)
	want := []map[string]any{
		{"sequence": 0.0, "role": "CONSUMER", "text": "hello"},
		{"sequence": 1.0, "role": "ASSIGNED_AGENT", "text": "hi there"},
	}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Errorf("messages %v, want %v", msgs, want)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"accept", "POST", "conversations/" + conv + "/accept", "", 200},
		{"typing", "POST", "conversations/" + conv + "/typing", `{"chatState":"COMPOSING"}`, 200},
		{"read all", "POST", "conversations/" + conv + "/read", "", 200},
		{"quick replies", "POST", "conversations/" + conv + "/messages", `{"text":"pick","quickReplies":{"type":"quickReplies","itemsPerRow":8,"replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"Yes"}]}}]}}`, 200},
		{"structured content", "POST", "conversations/" + conv + "/richcontent", `{"content":{"type":"vertical","elements":[{"type":"text","text":"Product"}]},"metadata":[{"type":"ExternalId","id":"card-1"}]}`, 200},
		{"generic event", "POST", "conversations/" + conv + "/events", `{"event":{"type":"ChatStateEvent","chatState":"PAUSE"}}`, 200},
		{"bad event", "POST", "conversations/" + conv + "/events", `{"event":{"type":"Nope"}}`, 400},
		{"empty text", "POST", "conversations/" + conv + "/messages", `{"text":""}`, 400},
		{"bad json", "POST", "conversations/" + conv + "/messages", `{`, 400},
		{"unknown conversation", "POST", "conversations/nope/messages", `{"text":"x"}`, 404},
		{"get one", "GET", "conversations/" + conv, "", 200},
		{"get unknown", "GET", "conversations/nope", "", 404},
		{"transfer", "POST", "conversations/" + conv + "/transfer", `{"skillId":"12345"}`, 200},
		{"transfer without skill", "POST", "conversations/" + conv + "/transfer", `{}`, 400},
		{"close with survey", "POST", "conversations/" + conv + "/close", `{"survey":true}`, 200},
		{"close", "POST", "conversations/" + conv + "/close", "", 200},
		{"message after close", "POST", "conversations/" + conv + "/messages", `{"text":"late"}`, 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := api(tc.method, tc.path, tc.body); r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
	c, _ := h.emu.Conversation(conv)
	if c.State != "CLOSE" || c.CloseReason != "AGENT" || c.SkillID != "12345" || len(c.Dialogs) != 2 || c.Dialogs[1].DialogType != "POST_SURVEY" {
		t.Errorf("conversation after agent actions: %+v", c)
	}
	var types []string
	for _, ev := range c.Events {
		var hd eventHead
		mustJSON(t, ev.Event, &hd)
		types = append(types, hd.Type+"/"+ev.Role)
	}
	wantTypes := "ContentEvent/CONSUMER ContentEvent/ASSIGNED_AGENT ChatStateEvent/ASSIGNED_AGENT AcceptStatusEvent/ASSIGNED_AGENT ContentEvent/ASSIGNED_AGENT RichContentEvent/ASSIGNED_AGENT ChatStateEvent/ASSIGNED_AGENT ContentEvent/CONTROLLER"
	if strings.Join(types, " ") != wantTypes {
		t.Errorf("events %v", types)
	}
	if !strings.Contains(string(c.Events[4].Event), `"quickReplies"`) || !strings.Contains(string(c.Events[5].Metadata), "card-1") {
		t.Errorf("quick replies / metadata not recorded: %s %s", c.Events[4].Event, c.Events[5].Metadata)
	}

	t.Run("faults", func(t *testing.T) {
		r := api("PUT", "faults", `{"endpoints":{"send":{"rate429":1}},"webhooks":{"dropRate":0.5}}`)
		if r.status != 200 {
			t.Fatalf("put: %d %s", r.status, r.body)
		}
		if f := h.emu.Faults(); f.Endpoints[EndpointSend].Rate429 != 1 || f.Webhooks.DropRate != 0.5 {
			t.Errorf("faults %+v", f)
		}
		jws2 := h.consumerJWS("faulty")
		if r := h.do("POST", convPath, h.hdr(jws2), sample(t, "sendapi-conversation-request-minimal.json")); r.status != 200 {
			t.Errorf("conversation endpoint has no fault: %d", r.status)
		}
		if r := h.do("POST", sendPath, h.hdr(jws2), []byte(`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{}}`)); r.status != 429 {
			t.Errorf("send: %d, want 429", r.status)
		}
		for _, bad := range []string{`{"endpoints":{"send":{"rate429":2}}}`, `{"endpoints":{"nope":{}}}`, `{"endpoints":{"send":{"status5xx":418}}}`, `{"webhooks":{"dropRate":-1}}`} {
			if r := api("PUT", "faults", bad); r.status != 400 {
				t.Errorf("%s: status %d", bad, r.status)
			}
		}
		if r := api("DELETE", "faults", ""); r.status != 200 || len(h.emu.Faults().Endpoints) != 0 {
			t.Errorf("clear: %d %+v", r.status, h.emu.Faults())
		}
	})
	t.Run("tokens expire", func(t *testing.T) {
		if r := api("POST", "tokens/expire", ""); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		r := h.do("POST", sendPath, h.hdr(jws), []byte(`{}`))
		checkAuthError(t, r, 40102)
		h.app = h.appJWT()
	})
	t.Run("webhooks status", func(t *testing.T) {
		r := api("GET", "webhooks", "")
		var st WebhookStatus
		mustJSON(t, r.body, &st)
		if r.status != 200 || st.Mode != "count" || st.State != StateUp {
			t.Errorf("%d %+v", r.status, st)
		}
	})
	t.Run("reset", func(t *testing.T) {
		if r := api("POST", "reset", ""); r.status != 200 || len(h.emu.Conversations()) != 0 {
			t.Errorf("reset: %d, %d conversations", r.status, len(h.emu.Conversations()))
		}
	})
}

func TestSSE(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/emulator/api/events", nil)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The subscription is registered before the first comment is flushed.
	if l := <-lines; !strings.HasPrefix(l, ":") {
		t.Fatalf("first line %q", l)
	}
	jws := h.consumerJWS("sse")
	conv := h.open(jws)
	h.sendText(jws, conv, "over sse")
	var events []string
	var datas []LiveEvent
	for len(datas) < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.HasPrefix(l, "event: ") {
				events = append(events, strings.TrimPrefix(l, "event: "))
			}
			if strings.HasPrefix(l, "data: ") {
				var ev LiveEvent
				mustJSON(t, []byte(strings.TrimPrefix(l, "data: ")), &ev)
				datas = append(datas, ev)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no SSE events")
		}
	}
	if events[0] != "notification" || datas[0].ConversationID != conv || !bytes.Contains(datas[0].Data, []byte("cqm.ExConversationChangeNotification")) {
		t.Errorf("first event %s %+v", events[0], datas[0])
	}
	if !bytes.Contains(datas[1].Data, []byte("over sse")) {
		t.Errorf("second event %s", datas[1].Data)
	}
}

// syncBuffer is an io.Writer safe to read while RunCommand writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunCommand(t *testing.T) {
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"--nope"},
			{"--account", "1", "--client-id", "c"},
			{"--account", "1", "--client-id", "c", "--client-secret", "s", "--max-retries", "9"},
			{"--account", "1", "--client-id", "c", "--client-secret", "s", "--webhook-header", "novalue"},
			{"--account", "1", "--client-id", "c", "--client-secret", "s", "--webhook-type", "bogus=http://x"},
		} {
			if err := RunCommand(context.Background(), args, io.Discard, io.Discard); err == nil {
				t.Errorf("%v: no error", args)
			}
		}
	})
	t.Run("serves until cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- RunCommand(ctx, []string{"--listen", "127.0.0.1:0", "--account", "le123", "--client-id", "cid",
				"--client-secret", "sec", "--webhook", "http://127.0.0.1:1/hook", "--log-level", "error"}, out, io.Discard)
		}()
		re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
		waitFor(t, "listening line", func() bool { return re.MatchString(out.String()) })
		addr := re.FindStringSubmatch(out.String())[1]
		resp, err := http.Get("http://" + addr + "/api/account/le123/service/asyncMessagingEnt/baseURI.json?version=1.0")
		if err != nil {
			t.Fatal(err)
		}
		var b baseURI
		_ = json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if b.BaseURI != addr || b.Account != "le123" {
			t.Errorf("domain api answered %+v", b)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunCommand: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("RunCommand did not return after cancel")
		}
	})
}
