package liveengage

import (
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests send the documented example requests (testdata/ holds copies
// of the reference samples) and compare the responses with the documented
// responses field by field.

func TestDomainAPI(t *testing.T) {
	h := newHarness(t, Options{})
	host := strings.TrimPrefix(h.srv.URL, "http://")
	all := strings.ReplaceAll(string(readTestdata(t, "domain-api-response-all-services.json")), "EXAMPLE123", testAccount)
	single := strings.ReplaceAll(string(readTestdata(t, "domain-api-response-single-service-thirdparty.json")), "56072331", testAccount)
	for _, tc := range []struct {
		name, path string
		status     int
		doc        string
		vary       []string
	}{
		{"all services .json", "/api/account/" + testAccount + "/service/baseURI.json?version=1.0", 200, all, []string{"baseURIs", "baseURIs[*].service", "baseURIs[*].baseURI"}},
		{"all services no suffix", "/api/account/" + testAccount + "/service/baseURI?version=1.0", 200, all, []string{"baseURIs", "baseURIs[*].service", "baseURIs[*].baseURI"}},
		{"single .json", "/api/account/" + testAccount + "/service/accountConfigReadOnly/baseURI.json?version=1.0", 200, single, []string{"baseURI"}},
		{"single no suffix", "/api/account/" + testAccount + "/service/accountConfigReadOnly/baseURI?version=1.0", 200, single, []string{"baseURI"}},
		{"missing version", "/api/account/" + testAccount + "/service/baseURI.json", 400, "", nil},
		{"unknown account", "/api/account/999/service/baseURI.json?version=1.0", 401, "", nil},
		{"service names are case-sensitive", "/api/account/" + testAccount + "/service/AsyncMessagingEnt/baseURI.json?version=1.0", 404, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("GET", tc.path, nil, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.doc == "" {
				return
			}
			compareDoc(t, []byte(tc.doc), r.body, tc.vary...)
			// Every service resolves to the emulator itself: a bare host.
			var m map[string]any
			mustJSON(t, r.body, &m)
			var uris []any
			if list, ok := m["baseURIs"].([]any); ok {
				uris = list
			} else {
				uris = []any{m}
			}
			names := map[string]bool{}
			for _, u := range uris {
				e := u.(map[string]any)
				if e["baseURI"] != host {
					t.Errorf("baseURI %v, want %s", e["baseURI"], host)
				}
				names[e["service"].(string)] = true
			}
			if strings.Contains(tc.path, "/service/baseURI") {
				for _, s := range []string{"asyncMessagingEnt", "sentinel", "idp", "swift"} {
					if !names[s] {
						t.Errorf("service %s missing from %s", s, r.body)
					}
				}
			}
		})
	}
}

func TestAppJWT(t *testing.T) {
	h := newHarness(t, Options{})
	doc := readTestdata(t, "auth-appjwt-response.json")
	var decoded struct {
		Header  json.RawMessage `json:"header"`
		Payload json.RawMessage `json:"payload"`
	}
	mustJSON(t, readTestdata(t, "auth-appjwt-decoded-header-and-payload.json"), &decoded)
	tokenPath := "/sentinel/api/account/" + testAccount + "/app/token"
	creds := url.Values{"client_id": {testClient}, "client_secret": {testSecret}}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tc := range []struct {
		name   string
		query  string
		header map[string]string
		body   string
		status int
	}{
		{"all in query (DEMO, BBC)", "?v=1.0&grant_type=client_credentials&" + creds.Encode(), nil, "", 200},
		{"grant_type in query, creds in form (auth page)", "?v=1.0&grant_type=client_credentials", form, creds.Encode(), 200},
		{"all in form (OAuth page, HOWTO)", "?v=1.0", form, creds.Encode() + "&grant_type=client_credentials", 200},
		{"wrong secret", "?v=1.0&grant_type=client_credentials&client_id=" + testClient + "&client_secret=nope", nil, "", 401},
		{"missing credentials", "?v=1.0&grant_type=client_credentials", nil, "", 401},
		{"wrong grant", "?v=1.0&grant_type=password&" + creds.Encode(), nil, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", tokenPath+tc.query, tc.header, []byte(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				var e map[string]string
				mustJSON(t, r.body, &e)
				if e["error"] == "" {
					t.Errorf("error body without error code: %s", r.body)
				}
				return
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json;charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			compareDoc(t, doc, r.body, "access_token")
			compareDoc(t, readTestdata(t, "auth-appjwt-response-devassist.json"), r.body, "access_token")
			var out struct {
				AccessToken string `json:"access_token"`
			}
			mustJSON(t, r.body, &out)
			hdr, _ := json.Marshal(jwtPart(t, out.AccessToken, 0))
			compareDoc(t, decoded.Header, hdr)
			claims := jwtPart(t, out.AccessToken, 1)
			payload, _ := json.Marshal(claims)
			compareDoc(t, decoded.Payload, payload, "aud", "azp", "exp", "iat")
			if claims["aud"] != testAccount || claims["azp"] != testClient {
				t.Errorf("aud/azp = %v/%v", claims["aud"], claims["azp"])
			}
			if d := claims["exp"].(float64) - claims["iat"].(float64); d != 3600 {
				t.Errorf("exp - iat = %v, want 3600", d)
			}
		})
	}
	t.Run("token ttl in seconds", func(t *testing.T) {
		h2 := newHarness(t, Options{TokenTTL: 2 * time.Second})
		c := jwtPart(t, h2.app, 1)
		if d := c["exp"].(float64) - c["iat"].(float64); d != 2 {
			t.Errorf("exp - iat = %v, want 2", d)
		}
	})
}

func TestConsumerJWS(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/api/account/" + testAccount + "/consumer?v=1.0"
	req := readTestdata(t, "auth-consumerjws-request.json")
	var docResp struct {
		Token string `json:"token"`
	}
	mustJSON(t, readTestdata(t, "auth-consumerjws-response.json"), &docResp)

	r := h.do("POST", path, map[string]string{"Authorization": h.app, "Content-Type": "application/json"}, req)
	if r.status != 201 {
		t.Fatalf("status %d, want 201: %s", r.status, r.body)
	}
	compareDoc(t, readTestdata(t, "auth-consumerjws-response.json"), r.body, "token")
	compareDoc(t, readTestdata(t, "auth-consumerjws-response-devassist.json"), r.body, "token")
	var out struct {
		Token string `json:"token"`
	}
	mustJSON(t, r.body, &out)
	gotHdr, _ := json.Marshal(jwtPart(t, out.Token, 0))
	docHdr, _ := json.Marshal(jwtPart(t, docResp.Token, 0))
	compareDoc(t, docHdr, gotHdr)
	gotClaims := jwtPart(t, out.Token, 1)
	b, _ := json.Marshal(gotClaims)
	docClaims, _ := json.Marshal(jwtPart(t, docResp.Token, 1))
	compareDoc(t, docClaims, b, "account_id", "ext_consumer_id", "lp_consumer_id")
	if gotClaims["account_id"] != testAccount || gotClaims["ext_consumer_id"] != "John_Doe_facebook12345" {
		t.Errorf("claims %v", gotClaims)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(gotClaims["lp_consumer_id"].(string)) {
		t.Errorf("lp_consumer_id %v is not 64 hex", gotClaims["lp_consumer_id"])
	}
	// Bearer prefix is accepted too (UNCONFIRMED upstream).
	if r := h.do("POST", path, map[string]string{"Authorization": "Bearer " + h.app}, req); r.status != 201 {
		t.Errorf("Bearer form: status %d", r.status)
	}
	for _, tc := range []struct {
		name, auth string
		code       float64
	}{
		{"missing AppJWT", "", 40105},
		{"invalid AppJWT", "abc.def.ghi", 40102},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", path, map[string]string{"Authorization": tc.auth}, req)
			checkAuthError(t, r, tc.code)
		})
	}
}

func checkAuthError(t *testing.T, r response, code float64) {
	t.Helper()
	if r.status != 401 && !(code == 40001 && r.status == 400) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// Same envelope as the documented 401 example; only the code varies.
	compareDoc(t, readTestdata(t, "sendapi-error-401-appjwt-missing.json"), r.body, "code", "body.title", "body.details", "body.errorCode")
	var e errorResp
	mustJSON(t, r.body, &e)
	if float64(e.Body.ErrorCode) != code || e.Code != r.status {
		t.Errorf("errorCode %d code %d, want %v / %d", e.Body.ErrorCode, e.Code, code, r.status)
	}
}

func TestConversationSamples(t *testing.T) {
	h := newHarness(t, Options{})
	autoProps := `{"type":".ClientProperties","features":["AUTO_MESSAGES"]}`
	for i, tc := range []struct {
		req, resp, clientProps string
		check                  func(t *testing.T, c Conversation)
	}{
		{"sendapi-conversation-request-minimal.json", "sendapi-conversation-response.json", "", func(t *testing.T, c Conversation) {
			if c.SkillID != "-1" {
				t.Errorf("skill %q, want -1", c.SkillID)
			}
		}},
		{"sendapi-conversation-request-sdes.json", "sendapi-conversation-response.json", "", func(t *testing.T, c Conversation) {
			if !strings.Contains(string(c.UserProfile), `"ctype":"vip"`) || c.TTRDefName != "NORMAL" {
				t.Errorf("profile %s ttr %s", c.UserProfile, c.TTRDefName)
			}
		}},
		{"sendapi-conversation-request-skill-routing.json", "sendapi-conversation-response.json", "", func(t *testing.T, c Conversation) {
			if c.SkillID != "2736637412" {
				t.Errorf("skill %q", c.SkillID)
			}
		}},
		{"sendapi-conversation-request-campaign-context.json", "sendapi-conversation-response.json", "", func(t *testing.T, c Conversation) {
			if !strings.Contains(string(c.CampaignInfo), `"engagementId":"888888"`) || !strings.Contains(string(c.Context), "SharkContext") {
				t.Errorf("campaign %s context %s", c.CampaignInfo, c.Context)
			}
		}},
		{"sendapi-conversation-request-auto-messages.json", "sendapi-conversation-response.json", autoProps, func(t *testing.T, c Conversation) {
			if !strings.Contains(string(c.ClientProperties), "AUTO_MESSAGES") {
				t.Errorf("client properties %s", c.ClientProperties)
			}
		}},
		{"sendapi-conversation-request-devassist.json", "sendapi-conversation-response-devassist.json", "", func(t *testing.T, c Conversation) {
			if !strings.Contains(string(c.UserProfile), "138766AZE") {
				t.Errorf("profile %s", c.UserProfile)
			}
		}},
		{"full-schema SetUserProfile", "sendapi-conversation-response.json", "", func(t *testing.T, c Conversation) {
			if !strings.Contains(string(c.UserProfile), `"socialId":"1234567890"`) || !strings.Contains(string(c.UserProfile), "pushNotificationData") {
				t.Errorf("profile %s", c.UserProfile)
			}
		}},
		{"DERIVED-sendapi-conversation-request-demoapp.json", "sendapi-conversation-response.json", "", func(t *testing.T, c Conversation) {
			if c.SkillID != "-1" || !strings.Contains(string(c.CampaignInfo), "{campaignId}") {
				t.Errorf("skill %q campaign %s", c.SkillID, c.CampaignInfo)
			}
		}},
	} {
		t.Run(tc.req, func(t *testing.T) {
			jws := h.consumerJWS("consumer-" + strconv.Itoa(i))
			hdr := h.hdr(jws)
			if tc.clientProps != "" {
				hdr["Client-Properties"] = tc.clientProps
			}
			var body []byte
			if tc.req != "full-schema SetUserProfile" {
				body = sample(t, tc.req)
			} else {
				// The schema example is one request; pair it with the
				// mandatory ConsumerRequestConversation.
				body = []byte(`[` + string(readTestdata(t, "sendapi-setuserprofile-full-schema-example.json")) +
					`,{"kind":"req","id":"2,","type":"cm.ConsumerRequestConversation","body":{"brandId":"` + testAccount + `"}}]`)
			}
			r := h.do("POST", convPath, hdr, body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			compareDoc(t, readTestdata(t, tc.resp), r.body, "[1].body.conversationId", "[*].reqId")
			var reqs []rawReq
			mustJSON(t, body, &reqs)
			var out []msgResp
			mustJSON(t, r.body, &out)
			for j := range reqs {
				if out[j].ReqID != reqs[j].reqID() {
					t.Errorf("element %d reqId %q, want %q", j, out[j].ReqID, reqs[j].reqID())
				}
			}
			var ids []struct {
				Body struct {
					ConversationID string `json:"conversationId"`
				} `json:"body"`
			}
			mustJSON(t, r.body, &ids)
			convID := ids[1].Body.ConversationID
			if convID == "" {
				convID = ids[0].Body.ConversationID
			}
			c, ok := h.emu.Conversation(convID)
			if !ok || c.State != "OPEN" || c.ConsumerID != "consumer-"+strconv.Itoa(i) {
				t.Fatalf("conversation %q: %+v", convID, c)
			}
			if len(c.Dialogs) != 1 || c.Dialogs[0].DialogID != convID || c.Dialogs[0].DialogType != "MAIN" {
				t.Errorf("dialogs %+v", c.Dialogs)
			}
			tc.check(t, c)
		})
	}
}

func TestConversationAlreadyOpen(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("dup")
	req := sample(t, "sendapi-conversation-request-devassist.json")
	if r := h.do("POST", convPath, h.hdr(jws), req); r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	r := h.do("POST", convPath, h.hdr(jws), req)
	if r.status != 400 {
		t.Fatalf("second: status %d, want 400", r.status)
	}
	lp := jwtPart(t, jws, 1)["lp_consumer_id"].(string)
	doc := strings.ReplaceAll(string(readTestdata(t, "sendapi-conversation-response-already-open.json")),
		"77d338e4b6bf02affbf9bf00a779cbf06b0fcd7fb1674028e8739acdfa6ae7a2", lp)
	compareDoc(t, []byte(doc), r.body)
	// After closing, a new conversation can be opened.
	conv := h.emu.Conversations()[0].ID
	if r := h.do("POST", sendPath, h.hdr(jws), sample(t, "sendapi-close-conversation-request.json", "{conversationId}", conv)); r.status != 200 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	if r := h.do("POST", convPath, h.hdr(jws), req); r.status != 200 {
		t.Fatalf("reopen: %d %s", r.status, r.body)
	}
}

func TestSendSamples(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("sender")
	conv := h.open(jws)
	repl := []string{"{conversationId}", conv, "cbf6e739-dfe6-4e3c-a544-2504afbe8747", conv,
		"88166f48-6254-496f-9508-96b044fc0442", conv, "b3aea67d-01ca-4bf7-af4f-9897cf6b77a7", conv}
	sendResp := "sendapi-send-response.json"
	steps := []struct {
		name, req string
		agent     string // agent text sent before the request
		status    int
		doc       string
		vary      []string
		seq       int // expected body.sequence; -1 = none
	}{
		{"text", "sendapi-send-text-request.json", "", 200, sendResp, nil, 0},
		{"chat state answers 0", "sendapi-send-chatstate-composing-request.json", "", 200, sendResp, nil, 0},
		{"accept status", "sendapi-send-accept-status-accept-request.json", "hello from agent", 200, sendResp, []string{"reqId", "body.sequence"}, 2},
		{"chat state demoapp", "sendapi-send-chatstate-composing-request-demoapp.json", "", 200, sendResp, nil, 0},
		{"accept demoapp", "sendapi-send-accept-status-accept-request-demoapp.json", "", 200, sendResp, []string{"reqId", "body.sequence"}, 3},
		{"read demoapp", "sendapi-send-accept-status-read-request-demoapp.json", "", 200, sendResp, []string{"reqId", "body.sequence"}, 4},
		{"text devassist", "sendapi-send-text-request-devassist.json", "", 200, "sendapi-send-text-response-devassist.json", []string{"body.sequence"}, 5},
		{"csat object form", "sendapi-csat-request.json", "", 200, "sendapi-close-conversation-response.json", []string{"reqId", "body.msg"}, -1},
		{"close", "sendapi-close-conversation-request-devassist.json", "", 200, "sendapi-close-conversation-response.json", nil, -1},
		{"close again", "sendapi-close-conversation-request-devassist.json", "", 400, "sendapi-send-error-conversation-closed.json", nil, -1},
		{"text after close", "sendapi-send-text-request.json", "", 400, "sendapi-send-error-conversation-closed.json", []string{"reqId"}, -1},
		{"csat array form after close", "sendapi-csat-request-mwapi-array-form.json", "", 200, "sendapi-close-conversation-response.json", []string{"reqId", "body.msg"}, -1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.agent != "" {
				if _, err := h.emu.AgentSend(conv, st.agent); err != nil {
					t.Fatal(err)
				}
			}
			body := sample(t, st.req, append(repl, `"conversationId":"id"`, `"conversationId":"`+conv+`"`)...)
			r := h.do("POST", sendPath, h.hdr(jws), body)
			if r.status != st.status {
				t.Fatalf("status %d, want %d: %s", r.status, st.status, r.body)
			}
			compareDoc(t, readTestdata(t, st.doc), r.body, st.vary...)
			if st.doc == sendResp {
				compareDoc(t, readTestdata(t, "sendapi-send-response-demoapp.json"), r.body, st.vary...)
			}
			var req rawReq
			mustJSON(t, body, &req)
			var out struct {
				ReqID string `json:"reqId"`
				Body  struct {
					Sequence *int `json:"sequence"`
				} `json:"body"`
			}
			mustJSON(t, r.body, &out)
			if out.ReqID != req.reqID() {
				t.Errorf("reqId %q, want %q", out.ReqID, req.reqID())
			}
			if st.seq >= 0 && (out.Body.Sequence == nil || *out.Body.Sequence != st.seq) {
				t.Errorf("sequence %v, want %d", out.Body.Sequence, st.seq)
			}
		})
	}
	c, _ := h.emu.Conversation(conv)
	if c.State != "CLOSE" || c.CloseReason != "CONSUMER" {
		t.Errorf("state %s reason %s", c.State, c.CloseReason)
	}
	if c.CSAT == nil || *c.CSAT != (CSAT{1, false, "FILLED"}) {
		t.Errorf("csat %+v, want the array form's values", c.CSAT)
	}
	want := []Message{{0, RoleConsumer, "Hi from Send Message only - Send a line"}, {1, RoleAssignedAgent, "hello from agent"}, {5, RoleConsumer, "Hello world!"}}
	if len(c.Messages) != len(want) {
		t.Fatalf("messages %+v", c.Messages)
	}
	for i := range want {
		if c.Messages[i] != want[i] {
			t.Errorf("message %d = %+v, want %+v", i, c.Messages[i], want[i])
		}
	}
}

func TestSendErrors(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("errors")
	conv := h.open(jws)
	text := func(msg string) []byte {
		return sample(t, "sendapi-send-text-request-devassist.json", "cbf6e739-dfe6-4e3c-a544-2504afbe8747", conv, `"Hello world!"`, quote(msg))
	}
	// A request object of exactly 5000 characters passes; 5001 does not.
	base := len([]rune(string(text(""))))
	atLimit := text(strings.Repeat("é", maxRequestChars-base))
	overLimit := text(strings.Repeat("é", maxRequestChars-base+1))

	t.Run("5000 characters pass", func(t *testing.T) {
		if r := h.do("POST", sendPath, h.hdr(jws), atLimit); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("over 5000 characters", func(t *testing.T) {
		r := h.do("POST", sendPath, h.hdr(jws), overLimit)
		if r.status != 400 {
			t.Fatalf("status %d", r.status)
		}
		compareDoc(t, readTestdata(t, "sendapi-send-error-bad-request-size.json"), r.body)
	})
	for _, v := range []string{"?v=2", "?v=1", ""} {
		t.Run("version "+v, func(t *testing.T) {
			p := strings.TrimSuffix(sendPath, "?v=3") + v
			if r := h.do("POST", p, h.hdr(jws), text("x")); r.status != 404 {
				t.Errorf("status %d, want 404", r.status)
			}
			p = strings.TrimSuffix(convPath, "?v=3") + v
			if r := h.do("POST", p, h.hdr(jws), sample(t, "sendapi-conversation-request-minimal.json")); r.status != 404 {
				t.Errorf("conversation status %d, want 404", r.status)
			}
		})
	}
	other := h.consumerJWS("someone-else")
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		code float64
	}{
		{"AppJWT missing", map[string]string{"X-LP-ON-BEHALF": jws}, 40105},
		{"AppJWT invalid", map[string]string{"Authorization": "x.y.z", "X-LP-ON-BEHALF": jws}, 40102},
		{"ConsumerJWS missing", map[string]string{"Authorization": h.app}, 40104},
		{"ConsumerJWS invalid", map[string]string{"Authorization": h.app, "X-LP-ON-BEHALF": "bad"}, 40103},
		{"conversation of another consumer", map[string]string{"Authorization": h.app, "x-lp-on-behalf": other}, 40103},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkAuthError(t, h.do("POST", sendPath, tc.hdr, text("x")), tc.code)
		})
	}
	t.Run("Bearer prefix accepted", func(t *testing.T) {
		hdr := h.hdr(jws)
		hdr["Authorization"] = "Bearer " + h.app
		if r := h.do("POST", sendPath, hdr, text("x")); r.status != 200 {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("missing brandId", func(t *testing.T) {
		body := []byte(`[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{}},{"kind":"req","id":"2","type":"cm.ConsumerRequestConversation","body":{}}]`)
		checkAuthError(t, h.do("POST", convPath, h.hdr(h.consumerJWS("nobrand")), body), 40001)
	})
	t.Run("forced token expiry", func(t *testing.T) {
		h.emu.ExpireTokens()
		checkAuthError(t, h.do("POST", sendPath, h.hdr(jws), text("x")), 40102)
		h.app = h.appJWT()
		if r := h.do("POST", sendPath, h.hdr(jws), text("x")); r.status != 200 {
			t.Errorf("fresh token: status %d %s", r.status, r.body)
		}
	})
	t.Run("injected 502", func(t *testing.T) {
		if err := h.emu.SetFaults(Faults{Endpoints: map[string]EndpointFaults{EndpointSend: {Rate5xx: 1, Status5xx: 502}}}); err != nil {
			t.Fatal(err)
		}
		defer h.emu.SetFaults(Faults{})
		r := h.do("POST", sendPath, h.hdr(jws), text("x"))
		if r.status != 502 {
			t.Fatalf("status %d", r.status)
		}
		compareDoc(t, readTestdata(t, "sendapi-error-502-unified-format.json"), r.body, "reqId", "body.details")
		var e errorResp
		mustJSON(t, r.body, &e)
		if e.ReqID != "1556852a-4bb3-11e9-8646-d663bd873d93" {
			t.Errorf("reqId %q", e.ReqID)
		}
	})
	t.Run("injected 429", func(t *testing.T) {
		if err := h.emu.SetFaults(Faults{Endpoints: map[string]EndpointFaults{EndpointAll: {Rate429: 1}}}); err != nil {
			t.Fatal(err)
		}
		defer h.emu.SetFaults(Faults{})
		// SEND errors carry the request id (unified style); CONVERSATION
		// holds several requests, so its 429 carries none.
		for _, tc := range []struct{ path, doc string }{
			{sendPath, "sendapi-error-502-unified-format.json"},
			{convPath, "sendapi-error-401-appjwt-missing.json"},
		} {
			r := h.do("POST", tc.path, h.hdr(jws), text("x"))
			if r.status != 429 {
				t.Fatalf("%s: status %d", tc.path, r.status)
			}
			compareDoc(t, readTestdata(t, tc.doc), r.body, "reqId", "code", "body.title", "body.details", "body.errorCode")
			var e errorResp
			mustJSON(t, r.body, &e)
			if e.Code != 429 || e.Body.ErrorCode != 42900 {
				t.Errorf("code %d errorCode %d", e.Code, e.Body.ErrorCode)
			}
		}
	})
}

func TestSequenceNumbers(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("seq")
	conv := h.open(jws)
	if s := h.sendText(jws, conv, "a"); s != 0 {
		t.Errorf("first message sequence %d, want 0", s)
	}
	if s, _ := h.emu.AgentSend(conv, "b"); s != 1 {
		t.Errorf("agent message sequence %d, want 1", s)
	}
	if err := h.emu.AgentTyping(conv, "COMPOSING"); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.emu.AgentRead(conv, []int{0}); s != 2 {
		t.Errorf("agent read sequence %d, want 2", s)
	}
	if s := h.sendText(jws, conv, "c"); s != 3 {
		t.Errorf("sequence %d, want 3 (chat states take no sequence)", s)
	}
	// Sequences are per conversation.
	jws2 := h.consumerJWS("seq2")
	conv2 := h.open(jws2)
	if s := h.sendText(jws2, conv2, "x"); s != 0 {
		t.Errorf("second conversation starts at %d, want 0", s)
	}
}

func TestPostSurvey(t *testing.T) {
	h := newHarness(t, Options{PostSurvey: true})
	jws := h.consumerJWS("pcs")
	conv := h.open(jws)
	hdr := h.hdr(jws)
	hdr["Client-Properties"] = `{"type":".ClientProperties","features":["RICH_CONTENT","QUICK_REPLIES","MULTI_DIALOG"]}`
	r := h.do("POST", sendPath, hdr, sample(t, "DERIVED-sendapi-close-dialog-pcs-request-demoapp.json", "{conversationId}", conv, "{dialogId}", conv))
	if r.status != 200 {
		t.Fatalf("dialog close: %d %s", r.status, r.body)
	}
	compareDoc(t, readTestdata(t, "sendapi-close-conversation-response.json"), r.body, "reqId", "body.msg")
	c, _ := h.emu.Conversation(conv)
	if c.State != "OPEN" || len(c.Dialogs) != 2 || c.Dialogs[0].State != "CLOSE" || c.Dialogs[1].DialogType != "POST_SURVEY" || c.Dialogs[1].State != "OPEN" {
		t.Fatalf("after dialog close: %+v", c)
	}
	survey := c.Dialogs[1].DialogID
	// The MAIN dialog no longer takes messages; the survey dialog does,
	// except chat states.
	if r := h.do("POST", sendPath, hdr, sample(t, "sendapi-send-text-request.json", "{conversationId}", conv)); r.status != 400 {
		t.Errorf("text to closed MAIN dialog: %d", r.status)
	}
	if r := h.do("POST", sendPath, hdr, sample(t, "sendapi-send-chatstate-composing-request.json", "{conversationId}", survey)); r.status != 400 {
		t.Errorf("chat state to survey dialog: %d", r.status)
	}
	// The survey bot asked its first question (sequence 0) on the survey dialog.
	c, _ = h.emu.Conversation(conv)
	if first := c.Events[len(c.Events)-1]; first.Role != RoleController || first.DialogID != survey || *first.Sequence != 0 ||
		!strings.Contains(string(first.Event), DefaultSurvey[0].Text) || !strings.Contains(string(first.Event), `"quickReplies"`) {
		t.Fatalf("survey question: %+v", first)
	}
	if r := h.do("POST", sendPath, hdr, sample(t, "sendapi-send-text-request.json", "{conversationId}", survey)); r.status != 200 {
		t.Errorf("text to survey dialog: %d %s", r.status, r.body)
	}
	r = h.do("POST", sendPath, hdr, sample(t, "DERIVED-sendapi-close-dialog-pcs-request-demoapp.json", "{conversationId}", conv, "{dialogId}", survey))
	if r.status != 200 {
		t.Fatalf("survey close: %d %s", r.status, r.body)
	}
	c, _ = h.emu.Conversation(conv)
	if c.State != "CLOSE" || c.Events[len(c.Events)-1].DialogID != survey {
		t.Errorf("after survey: state %s events %+v", c.State, c.Events)
	}
}

func TestFileSharing(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("files")
	conv := h.open(jws)
	urlVary := []string{"body.relativePath", "body.queryParams.temp_url_sig", "body.queryParams.temp_url_expires"}
	type urlOut struct {
		Body urlResp `json:"body"`
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 900)...)
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 500)...)

	r := h.do("POST", sendPath, h.hdr(jws), sample(t, "sendapi-file-upload-url-request.json"))
	if r.status != 200 {
		t.Fatalf("upload url: %d %s", r.status, r.body)
	}
	compareDoc(t, readTestdata(t, "sendapi-file-upload-url-response.json"), r.body, urlVary...)
	var up urlOut
	mustJSON(t, r.body, &up)
	if !regexp.MustCompile(`^/v1/AUTH_async-images/` + testAccount + `/[0-9a-f]{64}_uuid_[0-9a-f-]{36}_\d\d-\d\d-\d{4}_\d\d-\d\d-\d\d-\d+\.PNG$`).MatchString(up.Body.RelativePath) {
		t.Errorf("relativePath %q", up.Body.RelativePath)
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(up.Body.QueryParams.TempURLSig) {
		t.Errorf("temp_url_sig %q", up.Body.QueryParams.TempURLSig)
	}
	exp, _ := strconv.ParseInt(up.Body.QueryParams.TempURLExpires, 10, 64)
	if d := exp - time.Now().Unix(); d < 50 || d > 61 {
		t.Errorf("temp_url_expires is %ds away, want about 60", d)
	}
	signed := func(u urlResp) string {
		return u.RelativePath + "?temp_url_sig=" + u.QueryParams.TempURLSig + "&temp_url_expires=" + u.QueryParams.TempURLExpires
	}
	t.Run("PUT with a bad signature", func(t *testing.T) {
		bad := up.Body
		bad.QueryParams.TempURLSig = strings.Repeat("0", 40)
		if r := h.do("PUT", signed(bad), nil, png); r.status != 401 || !strings.Contains(string(r.body), "Temp URL invalid") {
			t.Errorf("status %d %s", r.status, r.body)
		}
	})
	t.Run("PUT with an expired URL", func(t *testing.T) {
		past := time.Now().Add(-time.Second).Unix()
		old := up.Body
		old.QueryParams.TempURLExpires = strconv.FormatInt(past, 10)
		old.QueryParams.TempURLSig = h.emu.files.sign("PUT", old.RelativePath, past)
		if r := h.do("PUT", signed(old), nil, png); r.status != 401 {
			t.Errorf("status %d", r.status)
		}
	})
	if r := h.do("PUT", signed(up.Body), nil, png); r.status != 201 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	r = h.do("POST", sendPath, h.hdr(jws), sample(t, "sendapi-file-download-url-request.json", "{{relativePath}}", up.Body.RelativePath))
	if r.status != 200 {
		t.Fatalf("download url: %d %s", r.status, r.body)
	}
	compareDoc(t, readTestdata(t, "sendapi-file-download-url-response.json"), r.body, urlVary...)
	var down urlOut
	mustJSON(t, r.body, &down)
	if down.Body.RelativePath != up.Body.RelativePath {
		t.Errorf("download path %q", down.Body.RelativePath)
	}
	if r := h.do("GET", signed(up.Body), nil, nil); r.status != 401 {
		t.Errorf("GET with the PUT signature: %d, want 401", r.status)
	}
	r = h.do("GET", signed(down.Body), nil, nil)
	if r.status != 200 || string(r.body) != string(png) || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("GET: %d %q %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}

	// The documented hosted/file event names a JPEG.
	uploadJPEG := func(data []byte) string {
		r := h.do("POST", sendPath, h.hdr(jws), []byte(`{"kind":"req","id":"4","type":"ms.GenerateURLForUploadFile","body":{"fileSize":"`+strconv.Itoa(len(data))+`","fileType":"JPEG"}}`))
		var u urlOut
		mustJSON(t, r.body, &u)
		if r := h.do("PUT", signed(u.Body), nil, data); r.status != 201 {
			t.Fatalf("PUT jpeg: %d", r.status)
		}
		return u.Body.RelativePath
	}
	hosted := func(path, preview string) response {
		return h.do("POST", sendPath, h.hdr(jws), sample(t, "sendapi-send-hosted-file-request.json", "{conversationId}", conv, "{relativePath}", path, "{imageData}", preview))
	}
	r = hosted(uploadJPEG(jpeg), "iVBORw0KGgo=")
	if r.status != 200 {
		t.Fatalf("hosted file: %d %s", r.status, r.body)
	}
	compareDoc(t, readTestdata(t, "sendapi-send-response.json"), r.body, "reqId")
	c, _ := h.emu.Conversation(conv)
	if len(c.Messages) != 1 || c.Messages[0].Text != "File logo" {
		t.Errorf("messages %+v", c.Messages)
	}
	for _, tc := range []struct {
		name string
		path string
		prev string
	}{
		{"corrupt (PNG bytes named JPEG)", uploadJPEG(png), "x"},
		{"never uploaded", "/v1/AUTH_async-images/" + testAccount + "/nothing.JPEG", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := hosted(tc.path, tc.prev); r.status != 400 {
				t.Errorf("status %d %s", r.status, r.body)
			}
		})
	}
	for _, body := range []string{
		`{"kind":"req","id":"5","type":"ms.GenerateURLForUploadFile","body":{"fileSize":"3145729","fileType":"PNG"}}`,
		`{"kind":"req","id":"5","type":"ms.GenerateURLForUploadFile","body":{"fileSize":"100","fileType":"BMP"}}`,
		`{"kind":"req","id":"5","type":"ms.GenerateURLForDownloadFile","body":{"relativePath":"/v1/none"}}`,
	} {
		if r := h.do("POST", sendPath, h.hdr(jws), []byte(body)); r.status != 400 {
			t.Errorf("%s: status %d", body, r.status)
		}
	}
}

// Metadata is accepted in every documented placement, recorded and passed
// on; an ExternalId over 64 characters, or metadata that is not a list of
// typed objects, is a 400 and nothing is recorded.
func TestMetadataPlacementsAndLimits(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("metadata")
	conv := h.open(jws)
	md := func(id string) string { return `[{"type":"ExternalId","id":` + quote(id) + `}]` }
	event := `{"type":"AcceptStatusEvent","status":"ACTION","sequenceList":[0]}`
	tests := []struct {
		name   string
		body   string
		status int
		want   string // the ExternalId recorded
	}{
		{"top level", `{"kind":"req","id":"1","type":"ms.PublishEvent","metadata":` + md("top") + `,"body":{"dialogId":"` + conv + `","event":` + event + `}}`, 200, "top"},
		{"in body", `{"kind":"req","id":"2","type":"ms.PublishEvent","body":{"dialogId":"` + conv + `","event":` + event + `,"metadata":` + md("body") + `}}`, 200, "body"},
		{"in event", `{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"dialogId":"` + conv + `","event":{"type":"ContentEvent","contentType":"text/plain","message":"x","metadata":` + md("event") + `}}}`, 200, "event"},
		{"64 characters", `{"kind":"req","id":"4","type":"ms.PublishEvent","metadata":` + md(strings.Repeat("é", 64)) + `,"body":{"dialogId":"` + conv + `","event":` + event + `}}`, 200, strings.Repeat("é", 64)},
		{"65 characters", `{"kind":"req","id":"5","type":"ms.PublishEvent","metadata":` + md(strings.Repeat("x", 65)) + `,"body":{"dialogId":"` + conv + `","event":` + event + `}}`, 400, ""},
		{"no type", `{"kind":"req","id":"6","type":"ms.PublishEvent","metadata":[{"id":"x"}],"body":{"dialogId":"` + conv + `","event":` + event + `}}`, 400, ""},
		{"not a list", `{"kind":"req","id":"7","type":"ms.PublishEvent","metadata":{"type":"ExternalId","id":"x"},"body":{"dialogId":"` + conv + `","event":` + event + `}}`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := h.emu.Conversation(conv)
			r := h.do("POST", sendPath, h.hdr(jws), []byte(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			after, _ := h.emu.Conversation(conv)
			if tc.status != 200 {
				if len(after.Events) != len(before.Events) {
					t.Fatal("a refused request was recorded")
				}
				return
			}
			last := after.Events[len(after.Events)-1]
			var got []map[string]any
			if err := json.Unmarshal(last.Metadata, &got); err != nil || len(got) != 1 || got[0]["id"] != tc.want {
				t.Fatalf("recorded metadata %s; want ExternalId %q", last.Metadata, tc.want)
			}
		})
	}
}

// An agent resumes a closed conversation: a new one for the same consumer,
// announced with the agent assigned; an open one cannot be resumed. Back
// to the queue drops the agent and keeps the skill.
func TestResumeAndBackToQueue(t *testing.T) {
	h := newHarness(t, Options{ConsumerParticipantIDs: "uuid"})
	jws := h.consumerJWS("resume")
	conv := h.open(jws)
	if _, err := h.emu.AgentResume(conv); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("resume of an open conversation: %v", err)
	}
	if _, err := h.emu.AgentSend(conv, "hi"); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.AgentBackToQueue(conv); err != nil {
		t.Fatal(err)
	}
	queued, _ := h.emu.Conversation(conv)
	if queued.AgentID != "" || queued.SkillID != "-1" {
		t.Fatalf("after back to queue: agent %q skill %q", queued.AgentID, queued.SkillID)
	}
	if err := h.emu.AgentClose(conv, false); err != nil {
		t.Fatal(err)
	}
	id, err := h.emu.AgentResume(conv)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := h.emu.Conversation(conv)
	resumed, _ := h.emu.Conversation(id)
	if id == conv || resumed.State != "OPEN" || resumed.ConsumerID != old.ConsumerID || resumed.AgentID == "" ||
		resumed.ParticipantID != old.ParticipantID || resumed.ParticipantID == old.LPConsumerID {
		t.Fatalf("resumed %+v from %+v", resumed, old)
	}
	if _, err := h.emu.AgentResume(conv); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("a second resume while the consumer has an open conversation: %v", err)
	}
}

// The survey bot asks each question, asks again after an answer that is
// not an option, records the answers and closes the conversation after
// the last one.
func TestSurveyRun(t *testing.T) {
	h := newHarness(t, Options{})
	jws := h.consumerJWS("survey")
	conv := h.open(jws)
	questions := []SurveyQuestion{{Text: "Rate us", Options: []string{"1", "2", "3"}}, {Text: "Anything to add?"}}
	if err := h.emu.AgentCloseSurvey(conv, questions); err != nil {
		t.Fatal(err)
	}
	c, _ := h.emu.Conversation(conv)
	survey := c.Dialogs[1].DialogID
	for _, answer := range []string{"7", "2", "Quick and kind"} {
		h.sendText(jws, survey, answer)
	}
	c, _ = h.emu.Conversation(conv)
	var asked []string
	for _, m := range c.Messages {
		if m.Role == RoleController {
			asked = append(asked, m.Text)
		}
	}
	if strings.Join(asked, "|") != "Rate us|Rate us|Anything to add?" {
		t.Errorf("questions asked: %q", asked)
	}
	want := []SurveyAnswer{{"Rate us", "2"}, {"Anything to add?", "Quick and kind"}}
	if len(c.SurveyAnswers) != 2 || c.SurveyAnswers[0] != want[0] || c.SurveyAnswers[1] != want[1] {
		t.Errorf("answers %+v, want %+v", c.SurveyAnswers, want)
	}
	if c.State != "CLOSE" || c.Dialogs[1].State != "CLOSE" || c.Dialogs[1].ClosedBy != ClosedByAgent {
		t.Errorf("after the survey: %+v", c)
	}
}
