package liveperson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/internal/fuzzseed"
)

// Fuzz targets for everything leconnect reads from LiveEngage: webhook
// notifications and their signatures, and the answers of the Domain API,
// the AppJWT and consumer JWS endpoints and the Send API. Seeds are the
// reference samples in testdata/; what the fuzzer finds stays in
// testdata/fuzz/<target>/ as a regression seed. `make fuzz` runs them.

// FuzzParseNotification: a body that parses parses the same way again,
// and each of its changes, stored on its own in a one-change notification
// (as the engine queues them), parses to the same change.
func FuzzParseNotification(f *testing.F) {
	fuzzseed.Files(f, "testdata/webhook-*.json", func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := liveperson.ParseNotification(body)
		if err != nil {
			if !errors.Is(err, liveperson.ErrMalformedNotification) {
				t.Fatalf("error %v does not wrap liveperson.ErrMalformedNotification", err)
			}
			return
		}
		again, err := liveperson.ParseNotification(body)
		if err != nil || !reflect.DeepEqual(n, again) {
			t.Fatalf("parsed twice differently: %v", err)
		}
		for i, m := range n.Messaging {
			one := oneChange(t, n, m.Raw)
			if len(one.Messaging) != 1 {
				t.Fatalf("messaging change %d alone parses to %d changes", i, len(one.Messaging))
			}
			got := one.Messaging[0]
			sameRaw(t, got.Raw, m.Raw)
			got.Raw, m.Raw = nil, nil
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("messaging change %d alone parses differently", i)
			}
		}
		for i, c := range n.Conversations {
			one := oneChange(t, n, c.Raw)
			if len(one.Conversations) != 1 {
				t.Fatalf("conversation change %d alone parses to %d changes", i, len(one.Conversations))
			}
			got := one.Conversations[0]
			sameRaw(t, got.Raw, c.Raw)
			got.Raw, c.Raw = nil, nil
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("conversation change %d alone parses differently", i)
			}
		}
	})
}

// sameRaw fails unless a change kept its raw bytes.
func sameRaw(t *testing.T, got, want json.RawMessage) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("a change's raw bytes changed on the way: %q, want %q", got, want)
	}
}

// oneChange parses raw as the only change of a notification of n's kind
// and type, the raw bytes copied in as they are (as the engine stores each
// change).
func oneChange(t *testing.T, n *liveperson.Notification, raw json.RawMessage) *liveperson.Notification {
	t.Helper()
	kind, _ := json.Marshal(n.Kind)
	typ, _ := json.Marshal(n.Type)
	wrapped := fmt.Appendf(nil, `{"kind":%s,"type":%s,"body":{"changes":[%s]}}`, kind, typ, raw)
	one, err := liveperson.ParseNotification(wrapped)
	if err != nil {
		t.Fatalf("a parsed change does not parse alone: %v\n%s", err, wrapped)
	}
	return one
}

// FuzzVerify: a body signed with the secret verifies, in either accepted
// encoding; the same signature fails once one byte of the body changes,
// and with another secret.
func FuzzVerify(f *testing.F) {
	fuzzseed.Files(f, "testdata/webhook-*.json", func(b []byte) { f.Add(b, uint(0), byte(1)) })
	f.Add([]byte{}, uint(0), byte(0x80))
	f.Fuzz(func(t *testing.T, body []byte, at uint, flip byte) {
		const account, client, secret = "123", "client", "s3cret"
		v, err := liveperson.NewVerifier(account, client, secret)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{liveperson.HeaderAccountID: {account}, liveperson.HeaderClientID: {client}, liveperson.HeaderSignature: {liveperson.Sign(secret, body)}}
		if err := v.Verify(body, h); err != nil {
			t.Fatalf("a correctly signed body fails: %v", err)
		}
		if err := v.Verify(body, h); err != nil {
			t.Fatalf("verifies once, not twice: %v", err)
		}
		other := http.Header{liveperson.HeaderAccountID: {account}, liveperson.HeaderClientID: {client}, liveperson.HeaderSignature: {liveperson.Sign("another secret", body)}}
		if err := v.Verify(body, other); !errors.Is(err, liveperson.ErrSignatureInvalid) {
			t.Fatalf("signed with another secret: %v; want liveperson.ErrSignatureInvalid", err)
		}
		if len(body) == 0 || flip == 0 {
			return
		}
		changed := bytes.Clone(body)
		changed[at%uint(len(body))] ^= flip
		if err := v.Verify(changed, h); !errors.Is(err, liveperson.ErrSignatureInvalid) {
			t.Fatalf("one byte changed: %v; want liveperson.ErrSignatureInvalid", err)
		}
	})
}

// cannedLE answers every LiveEngage request in process: with the reference
// sample for its endpoint, except endpoint, which gets status and body.
type cannedLE struct {
	good     map[string][]byte
	endpoint string
	status   int
	body     []byte
}

func (c *cannedLE) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	ep := endpointOf(r.URL.Path)
	status, body := http.StatusOK, c.good[ep]
	if ep == c.endpoint {
		status, body = c.status, c.body
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// fuzzAccount is the account the client is configured with and the
// Domain API answers for.
const fuzzAccount = "le81823118"

// goodAnswers are what the other endpoints answer: the reference samples,
// and a Domain API answer naming every service the client needs for this
// account (the sample's account and services are another's).
func goodAnswers(f *testing.F) map[string][]byte {
	f.Helper()
	var uris []map[string]string
	for _, svc := range []string{liveperson.ServiceAsyncMessaging, liveperson.ServiceSentinel, liveperson.ServiceIDP, liveperson.ServiceSwift} {
		uris = append(uris, map[string]string{"service": svc, "account": fuzzAccount, "baseURI": "lp.test"})
	}
	domain, err := json.Marshal(map[string]any{"baseURIs": uris})
	if err != nil {
		f.Fatal(err)
	}
	good := map[string][]byte{"domain": domain}
	for ep, file := range map[string]string{
		"appjwt": "auth-appjwt-response.json", "idp": "auth-consumerjws-response.json",
		"conversation": "sendapi-conversation-response.json", "send": "sendapi-send-response.json",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		good[ep] = b
	}
	return good
}

// fuzzResponses drives a whole client call (resolve the services, fetch the
// AppJWT and the consumer's JWS, open a conversation, publish) with
// endpoint answering status and body. Whatever the answer: no panic, no
// hang (retries are short), success only when every answer was a 2xx, and
// a successful call returns a usable result.
func fuzzResponses(f *testing.F, endpoint string, seeds ...string) {
	good := goodAnswers(f)
	for _, s := range seeds {
		fuzzseed.Files(f, filepath.Join("testdata", s), func(b []byte) { f.Add(200, b) })
	}
	f.Add(200, good[endpoint])
	f.Add(500, []byte(`{"code":500,"message":"oops"}`))
	f.Add(401, []byte(`[{"code":"401","body":{"msg":"no"}}]`))
	f.Add(429, []byte{})
	// The harness itself: with every answer the reference's, the call
	// succeeds (else the fuzzer would only ever see an earlier failure).
	if unusable, err := callAll(good, endpoint, http.StatusOK, good[endpoint]); err != nil || unusable != "" {
		f.Fatalf("the reference answers do not make a call succeed: %v %s", err, unusable)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return // not an HTTP status line
		}
		unusable, err := callAll(good, endpoint, status, body)
		if unusable != "" {
			t.Fatal(unusable)
		}
		if err == nil && (status < 200 || status > 299) {
			t.Fatalf("a %d answer from %s counted as success", status, endpoint)
		}
	})
}

// callAll opens a conversation and publishes in it, every endpoint
// answering as good says except endpoint (status, body). It returns the
// call's error, or what was wrong with how the client took the answers.
func callAll(good map[string][]byte, endpoint string, status int, body []byte) (unusable string, err error) {
	c, err := liveperson.New(liveperson.Config{
		AccountID: fuzzAccount, ClientID: "75588e18", ClientSecret: "secret", DomainAPI: "http://lp.test",
		HTTP: liveperson.HTTPConfig{Client: &http.Client{Transport: &cannedLE{good: good, endpoint: endpoint, status: status, body: body}}},
		Retry: liveperson.RetryPolicy{ServerErrorDelays: []time.Duration{time.Microsecond}, OuterRetries: -1,
			RateLimitMin: time.Microsecond, RateLimitMax: time.Microsecond, RateLimitRetries: 1, Jitter: -1},
		FetchTimeout: 5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer func() {
		if ctx.Err() != nil {
			unusable = fmt.Sprintf("the call did not end within its deadline: %v", err)
		}
	}()
	conv, err := c.CreateConversation(ctx, liveperson.ConversationRequest{ExtConsumerID: "consumer-1"})
	if err != nil {
		return "", err
	}
	if conv.ConversationID == "" {
		return "a conversation opened without an id", nil
	}
	res, err := c.PublishText(ctx, conv, "hello")
	if err == nil && res.Sequence < 0 {
		return fmt.Sprintf("published at sequence %d", res.Sequence), nil
	}
	return "", err
}

func FuzzDomainAPIResponse(f *testing.F) {
	fuzzResponses(f, "domain", "domain-api-response-*.json")
}

func FuzzAppJWTResponse(f *testing.F) { fuzzResponses(f, "appjwt", "auth-appjwt-response.json") }

func FuzzConsumerJWSResponse(f *testing.F) {
	fuzzResponses(f, "idp", "auth-consumerjws-response.json")
}

func FuzzSendAPIConversationResponse(f *testing.F) {
	fuzzResponses(f, "conversation", "sendapi-conversation-response*.json")
}

func FuzzSendAPIPublishResponse(f *testing.F) {
	fuzzResponses(f, "send", "sendapi-send-*.json")
}
