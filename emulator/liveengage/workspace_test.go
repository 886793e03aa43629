package liveengage

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

// GET /emulator/ serves the agent workspace, and its script and style, and
// the page drives only the emulator's own agent API and event stream.
func TestWorkspacePage(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		path, contentType string
		contains          []string
	}{
		{"/emulator/", "text/html", []string{`<script src="workspace.js">`, `href="workspace.css"`, "LiveEngageWorkspace.mount("}},
		{"/emulator/index.html", "text/html", nil}, // FileServer redirects to /emulator/
		{"/emulator/workspace.js", "text/javascript", []string{
			`new EventSource(base + "events")`, `"/emulator/api/"`, `conversations" + q`,
			`conv("/messages")`, `conv("/typing")`, `"/read"`, `conv("/transfer")`, `conv("/close")`,
			"quickReplies", "csatRate", "X-Open-Count",
		}},
		{"/emulator/workspace.css", "text/css", []string{".conv-list", ".msg.ASSIGNED_AGENT"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := h.do("GET", tc.path, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d", r.status)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.contentType)
			}
			for _, s := range tc.contains {
				if !strings.Contains(string(r.body), s) {
					t.Errorf("body lacks %q", s)
				}
			}
		})
	}
	if r := h.do("GET", "/emulator/nope.js", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("unknown asset: status %d, want 404", r.status)
	}
	// What is served is what WorkspaceFS offers to other pages (the demo).
	want, err := fs.ReadFile(WorkspaceFS(), "workspace.js")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do("GET", "/emulator/workspace.js", nil, nil); string(r.body) != string(want) {
		t.Error("/emulator/workspace.js differs from WorkspaceFS")
	}
}

// ?limit= and ?include= cut the list to the newest conversations plus the
// selected one; without them the answer is the full array of issue 3.
func TestListConversationsLimit(t *testing.T) {
	h := newHarness(t, Options{})
	var ids []string
	for i := range 5 {
		jws := h.consumerJWS(fmt.Sprintf("ext-%d", i))
		ids = append(ids, h.open(jws))
	}
	if r := h.do("POST", "/emulator/api/conversations/"+ids[1]+"/close", nil, nil); r.status != http.StatusOK {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		name, query string
		status      int
		want        []string // ids in answer order
		counts      bool     // X-Total-Count and X-Open-Count set
	}{
		{"no parameters", "", 200, ids, false},
		{"limit", "?limit=2", 200, ids[3:], true},
		{"limit with include", "?limit=2&include=" + ids[0], 200, []string{ids[0], ids[3], ids[4]}, true},
		{"include already listed", "?limit=2&include=" + ids[4], 200, ids[3:], true},
		{"limit above total", "?limit=50", 200, ids, true},
		{"zero", "?limit=0&include=" + ids[2], 200, []string{ids[2]}, true},
		{"include alone is ignored", "?include=" + ids[2], 200, ids, false},
		{"bad limit", "?limit=x", 400, nil, false},
		{"negative limit", "?limit=-1", 400, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("GET", "/emulator/api/conversations"+tc.query, nil, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				return
			}
			var list []Conversation
			mustJSON(t, r.body, &list)
			var got []string
			for _, c := range list {
				got = append(got, c.ID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			total, open := r.header.Get("X-Total-Count"), r.header.Get("X-Open-Count")
			if tc.counts && (total != "5" || open != "4") {
				t.Errorf("X-Total-Count %q X-Open-Count %q, want 5 and 4", total, open)
			}
			if !tc.counts && (total != "" || open != "") {
				t.Errorf("counts set without limit: %q %q", total, open)
			}
			var raw []json.RawMessage
			mustJSON(t, r.body, &raw) // always a JSON array
		})
	}
}
