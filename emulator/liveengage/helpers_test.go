package liveengage

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testAccount = "64467156"
	testClient  = "75588e18-0213-4e33-8174-883acac7e3c4"
	testSecret  = "kgvbkk7glku72jgtmpi6l4a872"
)

// One key for the whole test binary: RSA generation is the slowest thing
// New does.
var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

func sharedKey(t testing.TB) *rsa.PrivateKey {
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

type harness struct {
	t   testing.TB
	emu *Emulator
	srv *httptest.Server
	app string // AppJWT
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	if opts.AccountID == "" {
		opts.AccountID = testAccount
	}
	if opts.ClientID == "" {
		opts.ClientID = testClient
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = testSecret
	}
	opts.SigningKey = sharedKey(t)
	emu, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = emu.Close()
	})
	h := &harness{t: t, emu: emu, srv: srv}
	h.app = h.appJWT()
	return h
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// sample reads a documented sample and fills its placeholders.
func sample(t testing.TB, name string, repl ...string) []byte {
	t.Helper()
	s := string(readTestdata(t, name))
	all := append([]string{"{accountid}", testAccount, "${accountId}", testAccount, "{accountId}", testAccount}, repl...)
	return []byte(strings.NewReplacer(all...).Replace(s))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(method, path string, header map[string]string, body []byte) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (h *harness) appJWT() string {
	h.t.Helper()
	q := url.Values{"v": {"1.0"}, "grant_type": {"client_credentials"}, "client_id": {testClient}, "client_secret": {testSecret}}
	r := h.do("POST", "/sentinel/api/account/"+testAccount+"/app/token?"+q.Encode(), nil, nil)
	if r.status != 200 {
		h.t.Fatalf("app token: %d %s", r.status, r.body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(h.t, r.body, &out)
	return out.AccessToken
}

func (h *harness) consumerJWS(ext string) string {
	h.t.Helper()
	r := h.do("POST", "/api/account/"+testAccount+"/consumer?v=1.0",
		map[string]string{"Authorization": h.app, "Content-Type": "application/json"},
		[]byte(`{"ext_consumer_id":`+quote(ext)+`}`))
	if r.status != 201 {
		h.t.Fatalf("consumer jws: %d %s", r.status, r.body)
	}
	var out struct {
		Token string `json:"token"`
	}
	mustJSON(h.t, r.body, &out)
	return out.Token
}

func (h *harness) hdr(jws string) map[string]string {
	return map[string]string{"Authorization": h.app, "X-LP-ON-BEHALF": jws, "Content-Type": "application/json"}
}

const (
	convPath = "/api/account/" + testAccount + "/messaging/consumer/conversation?v=3"
	sendPath = "/api/account/" + testAccount + "/messaging/consumer/conversation/send?v=3"
)

// open creates a conversation with the minimal sample and returns its id.
func (h *harness) open(jws string) string {
	h.t.Helper()
	r := h.do("POST", convPath, h.hdr(jws), sample(h.t, "sendapi-conversation-request-minimal.json"))
	if r.status != 200 {
		h.t.Fatalf("conversation: %d %s", r.status, r.body)
	}
	var out []struct {
		Body struct {
			ConversationID string `json:"conversationId"`
		} `json:"body"`
	}
	mustJSON(h.t, r.body, &out)
	return out[1].Body.ConversationID
}

// sendText publishes a consumer text and returns the sequence.
func (h *harness) sendText(jws, convID, text string) int {
	h.t.Helper()
	body := fmt.Sprintf(`{"kind":"req","id":"t","type":"ms.PublishEvent","body":{"dialogId":%s,"event":{"type":"ContentEvent","contentType":"text/plain","message":%s}}}`, quote(convID), quote(text))
	r := h.do("POST", sendPath, h.hdr(jws), []byte(body))
	if r.status != 200 {
		h.t.Fatalf("send: %d %s", r.status, r.body)
	}
	var out struct {
		Body struct {
			Sequence int `json:"sequence"`
		} `json:"body"`
	}
	mustJSON(h.t, r.body, &out)
	return out.Body.Sequence
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// jwtPart decodes one base64url segment of a JWT.
func jwtPart(t testing.TB, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("decode token part: %v", err)
	}
	var m map[string]any
	mustJSON(t, b, &m)
	return m
}

// compareDoc compares got with a documented JSON value field by field: the
// same keys at every level, the same JSON types, and equal values except at
// the paths in vary (ids, tokens, timestamps the emulator generates). Paths
// look like "body.changes[0].sequence"; "*" matches any array index. A vary
// entry starting with "+" names a field got may have that doc lacks (newer
// fields absent from an older documented example).
func compareDoc(t testing.TB, doc, got []byte, vary ...string) {
	t.Helper()
	var d, g any
	mustJSON(t, doc, &d)
	mustJSON(t, got, &g)
	vs := map[string]bool{}
	for _, v := range vary {
		vs[v] = true
		vs[starPath(v)] = true
	}
	// "+" entries are kept as is: walkCompare looks them up with the prefix.
	var errs []string
	walkCompare("", d, g, vs, &errs)
	if len(errs) > 0 {
		t.Errorf("response differs from the documented one:\n  %s\ngot: %s", strings.Join(errs, "\n  "), got)
	}
}

func starPath(p string) string {
	var b strings.Builder
	in := false
	for _, r := range p {
		switch {
		case r == '[':
			in = true
			b.WriteString("[*")
		case r == ']':
			in = false
			b.WriteRune(r)
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func walkCompare(path string, d, g any, vary map[string]bool, errs *[]string) {
	name := path
	if name == "" {
		name = "(root)"
	}
	varies := vary[path] || vary[starPath(path)]
	switch dv := d.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: want an object, got %T", name, g))
			return
		}
		var keys []string
		for k := range dv {
			keys = append(keys, k)
		}
		for k := range gv {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if _, ok := dv[k]; !ok && !vary["+"+starPath(p)] {
				*errs = append(*errs, fmt.Sprintf("%s: unexpected field %q", name, k))
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			gvk, ok := gv[k]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s: missing field", p))
				continue
			}
			walkCompare(p, dv[k], gvk, vary, errs)
		}
	case []any:
		gv, ok := g.([]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: want an array, got %T", name, g))
			return
		}
		if len(gv) != len(dv) && !varies {
			*errs = append(*errs, fmt.Sprintf("%s: want %d elements, got %d", name, len(dv), len(gv)))
			return
		}
		for i := 0; i < len(dv) && i < len(gv); i++ {
			walkCompare(fmt.Sprintf("%s[%d]", path, i), dv[i], gv[i], vary, errs)
		}
	default:
		if fmt.Sprintf("%T", d) != fmt.Sprintf("%T", g) {
			*errs = append(*errs, fmt.Sprintf("%s: want JSON type %T, got %T (%v)", name, d, g, g))
			return
		}
		if !varies && d != g {
			*errs = append(*errs, fmt.Sprintf("%s: want %v, got %v", name, d, g))
		}
	}
}

// waitFor polls cond until it holds or a generous bound passes. The bound
// only guards against hangs; no test asserts on elapsed time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
