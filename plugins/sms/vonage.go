package sms

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// vonage speaks the Vonage (Nexmo) SMS API (channels.md §4).
type vonage struct {
	base      string
	apiKey    string
	apiSecret string
	token     string // webhook_token, expected as ?token= on webhooks
	from      string
	http      *http.Client
	timeout   time.Duration
}

// params accepts every format Vonage may use for webhooks (§4.4,
// UNCONFIRMED which): a JSON body, a form body, or GET query parameters.
// JSON values that are not strings (numbers, booleans) are kept as text.
func (v *vonage) params(r *http.Request, body []byte) (url.Values, error) {
	out := url.Values{}
	for k, vs := range r.URL.Query() {
		out[k] = vs
	}
	if r.Method == http.MethodGet || len(bytes.TrimSpace(body)) == 0 {
		return out, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" || (ct == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))) {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("vonage webhook body is not a JSON object: %w", err)
		}
		for k, val := range m {
			switch x := val.(type) {
			case string:
				out.Set(k, x)
			case nil:
			default:
				b, _ := json.Marshal(x)
				out.Set(k, string(b))
			}
		}
		return out, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("vonage webhook body is not form-encoded: %w", err)
	}
	for k, vs := range form {
		out[k] = vs
	}
	return out, nil
}

// authentic compares the URL's token in constant time.
func (v *vonage) authentic(r *http.Request, _ url.Values, _ string) bool {
	got := r.URL.Query().Get("token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(v.token)) == 1
}

func (v *vonage) inbound(p url.Values) (inboundSMS, error) {
	in := inboundSMS{ID: p.Get("messageId"), From: e164(p.Get("msisdn")), To: p.Get("to"), Text: p.Get("text"), At: time.Now()}
	if in.ID == "" || p.Get("msisdn") == "" {
		return in, errors.New("vonage inbound webhook without messageId or msisdn")
	}
	if ts, err := time.Parse("2006-01-02 15:04:05", p.Get("message-timestamp")); err == nil {
		in.At = ts.UTC()
	}
	if p.Get("type") == "binary" {
		return in, errors.New("vonage binary messages are not supported")
	}
	if p.Get("concat") == "true" {
		total, err1 := strconv.Atoi(p.Get("concat-total"))
		part, err2 := strconv.Atoi(p.Get("concat-part"))
		if err1 != nil || err2 != nil || total < 1 || total > 255 || part < 1 || part > total || p.Get("concat-ref") == "" {
			return in, errors.New("vonage concatenated part with bad concat-ref, concat-total or concat-part")
		}
		in.Concat = &concatPart{Ref: p.Get("concat-ref"), Total: total, Part: part}
	}
	return in, nil
}

func (v *vonage) status(p url.Values) (statusReport, error) {
	s := statusReport{ID: p.Get("messageId"), Status: strings.ToLower(p.Get("status")), ErrorCode: p.Get("err-code")}
	if m := p.Get("msisdn"); m != "" {
		s.Phone = e164(m)
	}
	if s.ID == "" || s.Status == "" {
		return s, errors.New("vonage delivery receipt without messageId or status")
	}
	return s, nil
}

type vonageResponse struct {
	MessageCount string `json:"message-count"`
	Messages     []struct {
		To        string `json:"to"`
		MessageID string `json:"message-id"`
		Status    string `json:"status"`
		ErrorText string `json:"error-text"`
	} `json:"messages"`
}

// send posts one SMS; Vonage may split it and answers one message-id per
// part, all of which are returned (each part gets its own receipt).
func (v *vonage) send(ctx context.Context, m outboundSMS) ([]string, error) {
	text := m.Text
	for _, u := range m.MediaURLs { // the SMS API has no MMS: send links
		text = strings.TrimSpace(text + "\n" + u)
	}
	form := url.Values{
		"api_key": {v.apiKey}, "api_secret": {v.apiSecret},
		"from": {strings.TrimPrefix(v.from, "+")}, "to": {strings.TrimPrefix(m.To, "+")},
		"text": {text}, "type": {"text"},
	}
	if !isGSM7(text) {
		form.Set("type", "unicode")
	}
	if m.StatusCallback != "" {
		form.Set("status-report-req", "1")
		form.Set("callback", m.StatusCallback)
	}
	if m.ClientRef != "" {
		form.Set("client-ref", truncate(m.ClientRef, 40))
	}
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.base+"/sms/json", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("vonage: build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := v.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("vonage: send sms: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("vonage: read answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		return nil, classifyVonage(&APIError{Provider: "vonage", HTTPStatus: res.StatusCode, Message: strings.TrimSpace(truncate(string(body), 200)), RetryAfter: retryAfterHeader(res.Header)})
	}
	var vr vonageResponse
	if err := json.Unmarshal(body, &vr); err != nil || len(vr.Messages) == 0 {
		return nil, sdk.Permanent(fmt.Errorf("vonage: answer is not an SMS API response: %v", err))
	}
	var ids []string
	for _, msg := range vr.Messages {
		if msg.Status != "0" {
			return nil, classifyVonage(&APIError{Provider: "vonage", HTTPStatus: res.StatusCode, Code: msg.Status, Message: msg.ErrorText})
		}
		ids = append(ids, msg.MessageID)
	}
	return ids, nil
}

// classifyVonage maps SMS API statuses (§4.2): throttled waits, internal
// errors retry, credentials mean the channel does not work, a full quota
// may be topped up (retry), everything about the message itself cannot
// succeed.
func classifyVonage(ae *APIError) error {
	switch {
	case ae.HTTPStatus == http.StatusTooManyRequests || ae.Code == "1":
		return sdk.RetryAfter(max(ae.RetryAfter, time.Second), ae)
	case ae.Code == "5" || ae.HTTPStatus >= 500:
		return ae
	case ae.Code == "9":
		return sdk.RetryAfter(time.Minute, ae)
	case ae.Code == "4" || ae.Code == "14" || ae.HTTPStatus == http.StatusUnauthorized:
		return sdk.NotConnected(fmt.Errorf("%w; check api_key and api_secret", ae))
	}
	return sdk.Permanent(ae)
}

// acknowledge: Vonage wants 200 or 204 (§4.4).
func (v *vonage) acknowledge(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

func (v *vonage) mms() bool { return false }

func (v *vonage) fetch(context.Context, string) ([]byte, string, error) {
	return nil, "", errors.New("vonage SMS has no media")
}

// e164 turns Vonage's digits-only msisdn into E.164.
func e164(n string) string {
	if n == "" || strings.HasPrefix(n, "+") {
		return n
	}
	return "+" + n
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
