package sms

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var vonageTo = regexp.MustCompile(`^[0-9]{7,15}$`)

// vonageSend is POST /sms/json (§4.1, §4.2): errors are HTTP 200 with a
// non-zero status in the message, like the real API. Parameters may come
// in the query (the spec), a form body, or a JSON body (what
// @vonage/server-sdk posts); credentials as api_key/api_secret parameters
// or in a Basic Authorization header (the SDK, and Vonage's own curl
// example for the SMS API).
func (e *Emulator) vonageSend(w http.ResponseWriter, r *http.Request) {
	p, err := vonageParams(r)
	if err != nil {
		vonageStatus(w, "2", "Missing params")
		return
	}
	e.mu.Lock()
	fault := e.takeFaultLocked(Vonage)
	e.mu.Unlock()
	from, to, text, typ := p.Get("from"), p.Get("to"), p.Get("text"), p.Get("type")
	e.mu.Lock()
	num, owned := e.numbers["+"+from]
	e.mu.Unlock()
	switch {
	case fault != nil && fault.HTTPStatus != 0:
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
		}
		http.Error(w, fault.Message, fault.HTTPStatus)
	case fault != nil:
		vonageStatus(w, fault.Code, fault.Message)
	case p.Get("api_key") == "" || p.Get("api_secret") == "":
		vonageStatus(w, "2", "Missing api_key")
	case p.Get("api_key") != e.opts.VonageAPIKey || !hmac.Equal([]byte(p.Get("api_secret")), []byte(e.opts.VonageAPISecret)):
		vonageStatus(w, "4", "Bad Credentials")
	case from == "":
		vonageStatus(w, "2", "Missing from param")
	case to == "":
		vonageStatus(w, "2", "Missing to param")
	case text == "":
		vonageStatus(w, "2", "Missing text param")
	case !vonageTo.MatchString(to):
		vonageStatus(w, "3", "Invalid to param")
	case typ != "" && typ != "text" && typ != "unicode":
		vonageStatus(w, "3", "Invalid type param")
	case vonageTo.MatchString(from) && (!owned || num.Provider != Vonage):
		vonageStatus(w, "15", "Illegal Sender Address - rejected")
	default:
		e.vonageAccept(w, p, num)
	}
}

// vonageParams reads a send request's parameters from its query, form or
// JSON body (numbers and booleans as their text), with credentials from a
// Basic Authorization header where the parameters carry none.
func vonageParams(r *http.Request) (url.Values, error) {
	var p url.Values
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) == "application/json" {
		var body map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			return nil, err
		}
		p = r.URL.Query()
		for k, v := range body {
			switch v := v.(type) {
			case string:
				p.Set(k, v)
			case float64:
				p.Set(k, strconv.FormatFloat(v, 'f', -1, 64))
			case bool:
				p.Set(k, strconv.FormatBool(v))
			}
		}
	} else {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		p = r.Form
	}
	if user, pass, ok := r.BasicAuth(); ok && p.Get("api_key") == "" && p.Get("api_secret") == "" {
		p.Set("api_key", user)
		p.Set("api_secret", pass)
	}
	return p, nil
}

func vonageStatus(w http.ResponseWriter, status, text string) {
	writeJSON(w, http.StatusOK, map[string]any{"message-count": "1",
		"messages": []map[string]string{{"status": status, "error-text": text}}})
}

func (e *Emulator) vonageAccept(w http.ResponseWriter, p url.Values, num Number) {
	from, to, text := p.Get("from"), p.Get("to"), p.Get("text")
	parts := vonageParts(text, p.Get("type") == "unicode")
	ids := make([]string, parts)
	msgs := make([]map[string]string, parts)
	for i := range ids {
		ids[i] = newID("", 16, true)
		msgs[i] = map[string]string{"to": to, "message-id": ids[i], "status": "0",
			"remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "23410"}
	}
	callback := p.Get("callback")
	if callback == "" {
		callback = num.StatusURL
	}
	if p.Get("status-report-req") == "0" {
		callback = ""
	}
	m := &Message{Provider: Vonage, ID: ids[0], From: "+" + strings.TrimPrefix(from, "+"), To: "+" + to, Text: text,
		Parts: ids, Status: "accepted", Callback: callback, At: time.Now().UTC()}
	if !vonageTo.MatchString(from) {
		m.From = from // alphanumeric sender
	}
	e.mu.Lock()
	e.outbound = append(e.outbound, m)
	e.notifyLocked()
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"message-count": strconv.Itoa(parts), "messages": msgs})
	e.goAsync(func() { e.vonageDeliver(m, from) })
}

// vonageParts counts the parts Vonage splits a text into.
func vonageParts(text string, unicode bool) int {
	n := utf8.RuneCountInString(text)
	single, multi := 160, 153
	if unicode || !gsm(text) {
		single, multi = 70, 67
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// vonageDeliver hands the message to the phone and sends one delivery
// receipt per part (§4.5), in random order with Shuffle.
func (e *Emulator) vonageDeliver(m *Message, from string) {
	if !e.sleep(100 * time.Millisecond) {
		return
	}
	e.mu.Lock()
	m.Status = "delivered"
	e.receiveLocked(m.To, &Message{Provider: Vonage, ID: m.ID, From: m.From, To: m.To, Text: m.Text, Parts: m.Parts, Status: "delivered", At: time.Now().UTC()})
	e.mu.Unlock()
	if m.Callback == "" {
		return
	}
	var reports []string
	for _, id := range m.Parts {
		reports = append(reports, id+"|accepted", id+"|delivered")
	}
	for _, r := range e.shuffled(reports) {
		if !e.sleep(200 * time.Millisecond) {
			return
		}
		id, st, _ := strings.Cut(r, "|")
		now := time.Now().UTC()
		p := url.Values{"msisdn": {strings.TrimPrefix(m.To, "+")}, "to": {from}, "network-code": {"23410"},
			"messageId": {id}, "price": {"0.03330000"}, "status": {st}, "scts": {now.Format("0601021504")},
			"err-code": {"0"}, "message-timestamp": {now.Format("2006-01-02 15:04:05")}}
		e.vonagePost("dlr", m.Callback, id, p, 1)
		e.mu.Lock()
		m.Statuses = append(m.Statuses, id+":"+st)
		e.notifyLocked()
		e.mu.Unlock()
	}
}

// vonagePost sends a webhook in Options.VonageFormat. Vonage resends
// until it gets 200 or 204 (for 24 hours, §4.4); the emulator tries
// attempts times, a scaled second apart.
func (e *Emulator) vonagePost(kind, target, id string, p url.Values, attempts int) Delivery {
	var d Delivery
	for i := 0; i < attempts; i++ {
		if i > 0 && !e.sleep(time.Second) {
			break
		}
		d = e.vonagePostOnce(kind, target, id, p)
		if d.StatusCode == http.StatusOK || d.StatusCode == http.StatusNoContent {
			break
		}
	}
	return d
}

func (e *Emulator) vonagePostOnce(kind, target, id string, p url.Values) Delivery {
	d := Delivery{Kind: kind, Provider: Vonage, URL: target, ID: id}
	var req *http.Request
	var err error
	switch e.opts.VonageFormat {
	case "get":
		u, perr := url.Parse(target)
		if perr != nil {
			err = perr
			break
		}
		q := u.Query()
		for k, vs := range p {
			q[k] = vs
		}
		e.vonageSignInPlace(q) // what the app reads back: the whole query
		u.RawQuery = q.Encode()
		req, err = http.NewRequest(http.MethodGet, u.String(), nil)
	case "form":
		p = e.vonageSigned(p)
		req, err = http.NewRequest(http.MethodPost, target, strings.NewReader(p.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	default:
		p = e.vonageSigned(p)
		obj := map[string]string{}
		for k := range p {
			obj[k] = p.Get(k)
		}
		b, _ := json.Marshal(obj)
		req, err = http.NewRequest(http.MethodPost, target, bytes.NewReader(b))
		if req != nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err == nil {
		req.Header.Set("User-Agent", "Nexmo/MessagingHUB/v1.0")
		var res *http.Response
		if res, err = e.client.Do(req); err == nil {
			b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			d.StatusCode, d.Body = res.StatusCode, string(b)
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent {
				d.Err = fmt.Sprintf("answered %d, want 200 or 204", res.StatusCode)
			}
		}
	}
	if err != nil {
		d.Err = err.Error()
	}
	e.mu.Lock()
	e.recordLocked(d)
	e.mu.Unlock()
	return d
}

// vonageInbound delivers a phone's message to a Vonage number's inbound
// URL (§4.4); a text longer than one SMS arrives as concatenated parts
// (in random order with Shuffle) that the receiver must reassemble.
func (e *Emulator) vonageInbound(n Number, from, text string) ([]Delivery, []string) {
	unicode := !gsm(text)
	typ := "text"
	single, multi := 160, 153
	if unicode {
		typ, single, multi = "unicode", 70, 67
	}
	runes := []rune(text)
	var pieces []string
	if len(runes) <= single {
		pieces = []string{text}
	} else {
		for i := 0; i < len(runes); i += multi {
			pieces = append(pieces, string(runes[i:min(i+multi, len(runes))]))
		}
	}
	keyword := strings.ToUpper(strings.Fields(text + " x")[0])
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	e.mu.Lock()
	ref := strconv.Itoa(e.rng.IntN(256))
	e.mu.Unlock()
	var all []url.Values
	var ids []string
	for i, piece := range pieces {
		id := newID("", 16, true)
		ids = append(ids, id)
		p := url.Values{"msisdn": {strings.TrimPrefix(from, "+")}, "to": {strings.TrimPrefix(n.Number, "+")},
			"messageId": {id}, "text": {piece}, "type": {typ}, "keyword": {keyword}, "message-timestamp": {now}}
		if len(pieces) > 1 {
			p.Set("concat", "true")
			p.Set("concat-ref", ref)
			p.Set("concat-total", strconv.Itoa(len(pieces)))
			p.Set("concat-part", strconv.Itoa(i+1))
		}
		all = append(all, p)
	}
	order := make([]string, len(all))
	for i := range order {
		order[i] = strconv.Itoa(i)
	}
	var out []Delivery
	for _, s := range e.shuffled(order) {
		i, _ := strconv.Atoi(s)
		out = append(out, e.vonagePost("inbound", n.WebhookURL, ids[i], all[i], 3))
	}
	return out, ids
}

// VonageSign computes a Vonage webhook's sig over params as Vonage's
// "Signing messages" guide describes (and @vonage/sms verifySignature
// checks): every parameter but sig, sorted by name, as &name=value with
// & and = in values turned into _; then md5hash appends the secret and
// takes MD5, the others are HMACs keyed by the secret; lower-case hex.
func VonageSign(params url.Values, secret, method string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "sig" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString("&" + k + "=" + strings.NewReplacer("&", "_", "=", "_").Replace(params.Get(k)))
	}
	if method == "" || method == "md5hash" {
		sum := md5.Sum([]byte(b.String() + secret))
		return hex.EncodeToString(sum[:])
	}
	h := map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}[method]
	m := hmac.New(h, []byte(secret))
	m.Write([]byte(b.String()))
	return hex.EncodeToString(m.Sum(nil))
}

// vonageSigned returns p with timestamp and sig when webhooks are signed.
func (e *Emulator) vonageSigned(p url.Values) url.Values {
	if e.opts.VonageSignatureSecret == "" {
		return p
	}
	q := url.Values{}
	for k, vs := range p {
		q[k] = append([]string(nil), vs...)
	}
	e.vonageSignInPlace(q)
	return q
}

func (e *Emulator) vonageSignInPlace(q url.Values) {
	if e.opts.VonageSignatureSecret == "" {
		return
	}
	if q.Get("timestamp") == "" {
		q.Set("timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	}
	q.Set("sig", VonageSign(q, e.opts.VonageSignatureSecret, e.opts.VonageSignatureMethod))
}
