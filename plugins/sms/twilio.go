package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// twilio speaks Programmable Messaging (channels.md §3).
type twilio struct {
	base       string // API base URL, no trailing slash
	accountSID string
	authToken  string
	from       string
	serviceSID string
	http       *http.Client
	media      *safehttp.Downloader
	timeout    time.Duration
}

// signatureHeader carries Twilio's HMAC-SHA1 of the URL and parameters.
const signatureHeader = "X-Twilio-Signature"

// TwilioSignature computes X-Twilio-Signature as Twilio does (§3.2): the
// URL, then every POST parameter sorted by name (byte order) as name+value,
// HMAC-SHA1 keyed by the auth token, base64. For GET requests params is
// empty: the parameters are already in the URL.
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	return twilioSignature(authToken, fullURL, params, inArrivalOrder)
}

// repeatedValues is how a parameter given more than once is signed; the
// reference documents no rule, and Twilio's SDKs differ (§3.2).
type repeatedValues int

const (
	inArrivalOrder repeatedValues = iota // every value, as received
	firstOnly                            // twilio-go: the first value
	sortedDistinct                       // twilio-node: distinct values, sorted
)

func twilioSignature(authToken, fullURL string, params url.Values, repeated repeatedValues) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		vs := params[k]
		if len(vs) > 1 {
			switch repeated {
			case firstOnly:
				vs = vs[:1]
			case sortedDistinct:
				vs = slices.Compact(slices.Sorted(slices.Values(vs)))
			}
		}
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ValidTwilioSignature checks sig in constant time against the URL as
// given and, because Twilio's own SDKs do (§3.2), the URL with the
// scheme's default port added or removed; repeated parameters are tried
// in arrival order, first value only (twilio-go) and distinct values
// sorted (twilio-node).
func ValidTwilioSignature(authToken, fullURL string, params url.Values, sig string) bool {
	if sig == "" || authToken == "" {
		return false
	}
	ok := false
	for _, u := range urlVariants(fullURL) {
		for _, repeated := range []repeatedValues{inArrivalOrder, firstOnly, sortedDistinct} {
			want := twilioSignature(authToken, u, params, repeated)
			// Evaluate every variant so timing does not tell which matched.
			if hmac.Equal([]byte(want), []byte(sig)) {
				ok = true
			}
		}
	}
	return ok
}

// urlVariants returns u, and u with the default port removed (if present)
// or added (if absent). Credentials are dropped, as Twilio drops them.
func urlVariants(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return []string{raw}
	}
	out := []string{raw}
	def := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	if u.User != nil {
		u.User = nil
		out = append(out, u.String())
	}
	host, port := u.Hostname(), u.Port()
	switch {
	case port == "" && def != "":
		v := *u
		v.Host = net.JoinHostPort(host, def)
		out = append(out, v.String())
	case port != "" && port == def:
		v := *u
		v.Host = host
		if strings.Contains(host, ":") {
			v.Host = "[" + host + "]"
		}
		out = append(out, v.String())
	}
	return out
}

func (t *twilio) params(r *http.Request, body []byte) (url.Values, error) {
	if r.Method == http.MethodGet {
		return r.URL.Query(), nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("twilio webhook body is not form-encoded: %w", err)
	}
	return v, nil
}

// authentic: for POST the signed parameters are the body's; for GET the
// URL (with its query) alone is signed.
func (t *twilio) authentic(r *http.Request, params url.Values, signURL string) bool {
	if r.Method == http.MethodGet {
		params = nil
	}
	return ValidTwilioSignature(t.authToken, signURL, params, r.Header.Get(signatureHeader))
}

func (t *twilio) inbound(p url.Values) (inboundSMS, error) {
	in := inboundSMS{ID: p.Get("MessageSid"), From: p.Get("From"), To: p.Get("To"), Text: p.Get("Body"),
		OptOut: strings.ToUpper(p.Get("OptOutType")), At: time.Now()}
	if in.ID == "" {
		in.ID = p.Get("SmsMessageSid")
	}
	if in.ID == "" || in.From == "" {
		return in, errors.New("twilio inbound webhook without MessageSid or From")
	}
	n, _ := strconv.Atoi(p.Get("NumMedia"))
	for i := 0; i < n && i < 10; i++ {
		u := p.Get(fmt.Sprintf("MediaUrl%d", i))
		if u != "" {
			in.Media = append(in.Media, mediaRef{URL: u, ContentType: p.Get(fmt.Sprintf("MediaContentType%d", i))})
		}
	}
	in.Profile = map[string]string{}
	for _, k := range []string{"FromCountry", "FromState", "FromCity", "FromZip", "ProfileName"} {
		if v := p.Get(k); v != "" {
			in.Profile[k] = v
		}
	}
	return in, nil
}

func (t *twilio) status(p url.Values) (statusReport, error) {
	s := statusReport{ID: p.Get("MessageSid"), Status: strings.ToLower(p.Get("MessageStatus")), Phone: p.Get("To"), ErrorCode: p.Get("ErrorCode")}
	if s.ID == "" {
		s.ID = p.Get("SmsSid")
	}
	if s.Status == "" {
		s.Status = strings.ToLower(p.Get("SmsStatus"))
	}
	if strings.EqualFold(p.Get("EventType"), "READ") {
		s.Status = "read"
	}
	if s.ID == "" || s.Status == "" {
		return s, errors.New("twilio status callback without MessageSid or MessageStatus")
	}
	return s, nil
}

// twilioMessage is the part of the Message resource we read.
type twilioMessage struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}

type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func (t *twilio) send(ctx context.Context, m outboundSMS) ([]string, error) {
	form := url.Values{"To": {m.To}}
	if t.serviceSID != "" {
		form.Set("MessagingServiceSid", t.serviceSID)
	}
	if t.from != "" {
		form.Set("From", t.from)
	}
	if m.Text != "" {
		form.Set("Body", m.Text)
	}
	for _, u := range m.MediaURLs {
		form.Add("MediaUrl", u)
	}
	if m.StatusCallback != "" {
		form.Set("StatusCallback", m.StatusCallback)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	endpoint := t.base + "/2010-04-01/Accounts/" + url.PathEscape(t.accountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("twilio: build request: %w", err))
	}
	req.SetBasicAuth(t.accountSID, t.authToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := t.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("twilio: create message: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("twilio: read answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		var te twilioError
		_ = json.Unmarshal(body, &te)
		ae := &APIError{Provider: "twilio", HTTPStatus: res.StatusCode, Message: te.Message, RetryAfter: retryAfterHeader(res.Header)}
		if te.Code != 0 {
			ae.Code = strconv.Itoa(te.Code)
		}
		if ae.Message == "" {
			ae.Message = http.StatusText(res.StatusCode)
		}
		return nil, classifyTwilio(ae)
	}
	var msg twilioMessage
	if err := json.Unmarshal(body, &msg); err != nil || msg.SID == "" {
		// Created, but we cannot tell its id: do not resend it blindly.
		return nil, sdk.Permanent(fmt.Errorf("twilio: message created but the answer has no sid: %v", err))
	}
	return []string{msg.SID}, nil
}

// classifyTwilio is the one place Twilio errors get their meaning (§3.3,
// §3.6, §3.7): rate limits wait, a full sender queue waits longer, bad
// credentials mean the channel does not work, other 4xx cannot succeed,
// 5xx and anything unknown are retried.
func classifyTwilio(ae *APIError) error {
	switch {
	case ae.HTTPStatus == http.StatusTooManyRequests || ae.Code == "20429":
		return sdk.RetryAfter(max(ae.RetryAfter, time.Second), ae)
	case ae.Code == "21611" || ae.Code == "30001":
		return sdk.RetryAfter(max(ae.RetryAfter, time.Minute), ae)
	case ae.HTTPStatus == http.StatusUnauthorized || ae.Code == "20003":
		return sdk.NotConnected(fmt.Errorf("%w; check account_sid and auth_token", ae))
	case ae.HTTPStatus >= 500:
		return ae
	case ae.HTTPStatus >= 400:
		return sdk.Permanent(ae)
	}
	return ae
}

func retryAfterHeader(h http.Header) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// acknowledge answers with empty TwiML: accepted, no reply (§3.1).
func (t *twilio) acknowledge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "<Response></Response>")
}

func (t *twilio) mms() bool { return true }

// fetch downloads inbound media within the channel's download policy.
// Credentials go only to the API's own host (media URLs may require Basic
// auth); net/http drops them on a redirect elsewhere.
func (t *twilio) fetch(ctx context.Context, mediaURL string) ([]byte, string, error) {
	f, err := t.media.Get(ctx, mediaURL, func(req *http.Request) {
		if sameHost(req.URL, t.base) {
			req.SetBasicAuth(t.accountSID, t.authToken)
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("fetch media: %w", err)
	}
	return f.Data, f.ContentType, nil
}

func sameHost(u *url.URL, base string) bool {
	b, err := url.Parse(base)
	return err == nil && strings.EqualFold(b.Host, u.Host)
}
