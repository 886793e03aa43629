package sms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leconnect/leconnect/emulator/internal/serve"
)

// Sign computes X-Twilio-Signature for a request to fullURL with POST
// parameters params (channels.md §3.2): the URL, then each parameter
// sorted by name as name+value, HMAC-SHA1 keyed by the auth token, base64.
func Sign(authToken, fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		for _, v := range params[k] {
			b.WriteString(k + v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// twilioError writes Twilio's error body (§3.3).
func twilioError(w http.ResponseWriter, status, code int, msg string) {
	body := map[string]any{"status": status, "message": msg}
	if code != 0 {
		body["code"] = code
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// twilioCreate is POST /2010-04-01/Accounts/{AccountSid}/Messages.json.
func (e *Emulator) twilioCreate(w http.ResponseWriter, r *http.Request) {
	if !e.twilioAuthorized(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 0, "Bad request")
		return
	}
	p := r.PostForm
	to, from, service, body := p.Get("To"), p.Get("From"), p.Get("MessagingServiceSid"), p.Get("Body")
	media := p["MediaUrl"]
	e.mu.Lock()
	fault := e.takeFaultLocked(Twilio)
	num, owned := e.numbers[from]
	if from == "" && service == e.opts.MessagingServiceSID {
		for _, n := range e.numbers { // the service picks a sender
			if n.Provider == Twilio && n.InService {
				num, owned, from = n, true, n.Number
				break
			}
		}
	}
	opted := e.optOut[from+"|"+to]
	e.mu.Unlock()
	hold := time.Duration(0)
	if fault != nil && fault.HTTPStatus == 0 && fault.HoldMillis > 0 {
		hold, fault = time.Duration(fault.HoldMillis)*time.Millisecond, nil
	}
	switch {
	case fault != nil:
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
		}
		code, _ := strconv.Atoi(fault.Code)
		twilioError(w, fault.HTTPStatus, code, fault.Message)
	case to == "":
		twilioError(w, http.StatusBadRequest, 21201, "No 'To' number is specified")
	case !e164.MatchString(to):
		twilioError(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
	case service != "" && service != e.opts.MessagingServiceSID:
		twilioError(w, http.StatusBadRequest, 21705, "The Messaging Service Sid is invalid.")
	case from == "" && service == "":
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
	case !owned || num.Provider != Twilio:
		twilioError(w, http.StatusBadRequest, 21606, fmt.Sprintf("The From phone number %s is not a valid, SMS-capable inbound phone number or short code for your account.", from))
	case body == "" && len(media) == 0 && p.Get("ContentSid") == "":
		twilioError(w, http.StatusBadRequest, 21619, "A text message body or media urls must be specified.")
	case utf8.RuneCountInString(body) > 1600:
		twilioError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
	case len(media) > 10:
		twilioError(w, http.StatusBadRequest, 21623, "Number of media files exceeds allowed limit.")
	case opted:
		twilioError(w, http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient")
	default:
		resource := e.twilioAccept(p, from, to, service, body, media)
		if hold > 0 && !serve.HoldAnswer(r, e.done, hold) {
			return // created, but the answer was late and nobody waited for it
		}
		writeJSON(w, http.StatusCreated, resource)
	}
}

// twilioAccept creates the message (it goes out) and returns its resource
// as created, for the answer.
func (e *Emulator) twilioAccept(p url.Values, from, to, service, body string, media []string) map[string]any {
	prefix := "SM"
	if len(media) > 0 {
		prefix = "MM"
	}
	sid := newID(prefix, 32, false)
	status := "queued"
	if service != "" {
		status = "accepted"
	}
	now := time.Now().UTC()
	m := &Message{Provider: Twilio, ID: sid, From: from, To: to, Text: body, Status: status, Callback: p.Get("StatusCallback"), At: now,
		direction: "outbound-api", serviceSID: service, numMedia: len(media)}
	e.mu.Lock()
	e.outbound = append(e.outbound, m)
	e.twilioLog = append(e.twilioLog, m)
	e.notifyLocked()
	resource := e.twilioResourceLocked(m)
	e.mu.Unlock()
	e.goAsync(func() { e.twilioDeliver(m, media, service) })
	return resource
}

// twilioDeliver fetches the media, hands the message to the phone and
// sends the status callbacks (no callback for the initial status, §3.4).
func (e *Emulator) twilioDeliver(m *Message, mediaURLs []string, service string) {
	var files []Media
	failCode := ""
	for _, u := range mediaURLs {
		f, err := e.fetch(u)
		if err != nil {
			e.log.Warn("twilio media fetch failed", "url", u, "err", err)
			failCode = "12300" // invalid content / retrieval failure
			break
		}
		files = append(files, f)
	}
	if !e.sleep(100 * time.Millisecond) {
		return
	}
	order := []string{"sent", "delivered"}
	if service != "" {
		order = []string{"queued", "sent", "delivered"}
	}
	e.mu.Lock()
	if failCode != "" {
		order = []string{"failed"}
		m.Status = "failed"
	} else {
		m.Media = files
		m.Status = "delivered"
		e.receiveLocked(m.To, &Message{Provider: Twilio, ID: m.ID, From: m.From, To: m.To, Text: m.Text, Media: files, Status: "delivered", At: time.Now().UTC()})
	}
	e.notifyLocked()
	e.mu.Unlock()
	if m.Callback == "" {
		return
	}
	for _, st := range e.shuffled(order) {
		if !e.sleep(200 * time.Millisecond) {
			return
		}
		p := url.Values{"AccountSid": {e.opts.AccountSID}, "ApiVersion": {"2010-04-01"}, "From": {m.From}, "To": {m.To},
			"MessageSid": {m.ID}, "MessageStatus": {st}, "SmsSid": {m.ID}, "SmsStatus": {st}}
		if service != "" {
			p.Set("MessagingServiceSid", service)
		}
		if st == "failed" || st == "undelivered" {
			p.Set("ErrorCode", failCode)
		}
		if st == "delivered" || st == "undelivered" {
			p.Set("RawDlrDoneDate", time.Now().UTC().Format("0601021504"))
		}
		e.twilioPost("status", m.Callback, m.ID, p, "")
		e.mu.Lock()
		m.Statuses = append(m.Statuses, st)
		e.notifyLocked()
		e.mu.Unlock()
	}
}

// fetch downloads a media URL the way Twilio does when creating an MMS.
func (e *Emulator) fetch(u string) (Media, error) {
	res, err := e.client.Get(u)
	if err != nil {
		return Media{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return Media{}, fmt.Errorf("http %d", res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, 5<<20+1))
	if err != nil {
		return Media{}, err
	}
	if len(data) > 5<<20 {
		return Media{}, fmt.Errorf("larger than 5 MB")
	}
	return Media{ContentType: res.Header.Get("Content-Type"), Data: data, URL: u}, nil
}

// twilioPost sends a signed form webhook and records it. It returns the
// answer's status and body.
func (e *Emulator) twilioPost(kind, target, id string, p url.Values, idempotency string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(p.Encode()))
	if err != nil {
		e.mu.Lock()
		e.recordLocked(Delivery{Kind: kind, Provider: Twilio, URL: target, ID: id, Err: err.Error()})
		e.mu.Unlock()
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", Sign(e.opts.AuthToken, target, p))
	if idempotency != "" {
		req.Header.Set("I-Twilio-Idempotency-Token", idempotency)
	}
	d := Delivery{Kind: kind, Provider: Twilio, URL: target, ID: id}
	res, err := e.client.Do(req)
	var body string
	if err != nil {
		d.Err = "11205: " + err.Error()
	} else {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10+1))
		res.Body.Close()
		body = string(b)
		d.StatusCode, d.Body = res.StatusCode, body
		if res.StatusCode/100 != 2 {
			d.Err = "11200: HTTP retrieval failure"
		}
	}
	e.mu.Lock()
	e.recordLocked(d)
	e.mu.Unlock()
	if err != nil {
		return 0, "", err
	}
	return d.StatusCode, body, nil
}

// twilioInbound delivers a phone's message to a Twilio number's webhook
// with the full parameter set (§3.1), signed for the exact configured URL.
func (e *Emulator) twilioInbound(n Number, from, text string, media []Media) (Delivery, error) {
	prefix := "SM"
	if len(media) > 0 {
		prefix = "MM"
	}
	sid := newID(prefix, 32, false)
	p := url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {sid}, "NumMedia": {strconv.Itoa(len(media))},
		"ToCity": {"SAUSALITO"}, "FromZip": {"94103"}, "SmsSid": {sid}, "FromState": {"CA"}, "SmsStatus": {"received"},
		"FromCity": {"SAN FRANCISCO"}, "Body": {text}, "FromCountry": {"US"}, "To": {n.Number}, "ToZip": {"94965"},
		"NumSegments": {strconv.Itoa(segments(text))}, "MessageSid": {sid}, "AccountSid": {e.opts.AccountSID},
		"From": {from}, "ApiVersion": {"2010-04-01"},
	}
	if n.InService {
		p.Set("MessagingServiceSid", e.opts.MessagingServiceSID)
	}
	base := e.base(nil)
	e.mu.Lock()
	for i, m := range media {
		path := "/2010-04-01/Accounts/" + e.opts.AccountSID + "/Messages/" + sid + "/Media/" + newID("ME", 32, false)
		e.media[path] = m
		p.Set(fmt.Sprintf("MediaUrl%d", i), base+path)
		p.Set(fmt.Sprintf("MediaContentType%d", i), m.ContentType)
	}
	e.inbound[sid] = &replay{url: n.WebhookURL, params: p}
	e.twilioLog = append(e.twilioLog, &Message{Provider: Twilio, ID: sid, From: from, To: n.Number, Text: text, Status: "received",
		At: time.Now().UTC(), direction: "inbound", serviceSID: p.Get("MessagingServiceSid"), numMedia: len(media)})
	e.mu.Unlock()
	return e.twilioSendInbound(sid, n.WebhookURL, p, "")
}

func (e *Emulator) twilioSendInbound(sid, target string, p url.Values, idem string) (Delivery, error) {
	status, body, err := e.twilioPost("inbound", target, sid, p, idem)
	d := Delivery{Kind: "inbound", Provider: Twilio, URL: target, ID: sid, StatusCode: status, Body: body}
	if err != nil {
		d.Err = err.Error()
		return d, nil
	}
	// The answer must be TwiML; a <Message> in it goes to the phone.
	var resp struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			Body string `xml:"Body"`
			Text string `xml:",chardata"`
		} `xml:"Message"`
	}
	if status/100 == 2 {
		if xerr := xml.Unmarshal([]byte(body), &resp); xerr != nil {
			d.Err = "12100: Document parse failure"
		} else {
			for _, m := range resp.Messages {
				text := strings.TrimSpace(m.Body)
				if text == "" {
					text = strings.TrimSpace(m.Text)
				}
				if text != "" {
					e.mu.Lock()
					e.receiveLocked(p.Get("From"), &Message{Provider: Twilio, ID: newID("SM", 32, false), From: p.Get("To"), To: p.Get("From"), Text: text, Status: "delivered", At: time.Now().UTC()})
					e.mu.Unlock()
				}
			}
		}
	} else {
		d.Err = "11200: HTTP retrieval failure"
	}
	return d, nil
}

// Replay delivers a phone's Twilio message again, as Twilio does when a
// retry policy is set: same MessageSid, with I-Twilio-Idempotency-Token.
func (e *Emulator) Replay(sid string) (Delivery, error) {
	e.mu.Lock()
	rp := e.inbound[sid]
	e.mu.Unlock()
	if rp == nil {
		return Delivery{}, fmt.Errorf("message %s: %w", sid, ErrUnknownID)
	}
	return e.twilioSendInbound(sid, rp.url, rp.params, newID("", 32, false))
}

// twilioMedia serves a phone's MMS media (Basic auth optional, as by
// default; wrong credentials are refused).
func (e *Emulator) twilioMedia(w http.ResponseWriter, r *http.Request) {
	if user, pass, ok := r.BasicAuth(); ok && (user != e.opts.AccountSID || pass != e.opts.AuthToken) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	e.mu.Lock()
	m, ok := e.media[r.URL.Path]
	e.mu.Unlock()
	if !ok {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	w.Header().Set("Content-Type", m.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.Data)))
	_, _ = w.Write(m.Data)
}

// segments counts SMS segments (§3.5): GSM-7 160/153, UCS-2 70/67.
func segments(text string) int {
	n := utf8.RuneCountInString(text)
	single, multi := 160, 153
	if !gsm(text) {
		single, multi = 70, 67
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

const gsmChars = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f"

func gsm(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(gsmChars, r) {
			return false
		}
	}
	return true
}

// twilioResourceLocked is m as Twilio's Message resource (§3.3). Caller
// holds e.mu (the status changes as the message is delivered).
func (e *Emulator) twilioResourceLocked(m *Message) map[string]any {
	date := m.At.Format(time.RFC1123Z)
	var dateSent, service any
	if m.Status != "queued" && m.Status != "accepted" {
		dateSent = date
	}
	if m.serviceSID != "" {
		service = m.serviceSID
	}
	var errCode, errMessage any
	if m.Status == "failed" {
		errCode, errMessage = 12300, "Invalid Content-Type"
	}
	uri := "/2010-04-01/Accounts/" + e.opts.AccountSID + "/Messages/" + m.ID
	return map[string]any{
		"account_sid": e.opts.AccountSID, "api_version": "2010-04-01", "body": m.Text,
		"date_created": date, "date_sent": dateSent, "date_updated": date, "direction": m.direction,
		"error_code": errCode, "error_message": errMessage, "from": m.From, "messaging_service_sid": service,
		"num_media": strconv.Itoa(m.numMedia), "num_segments": strconv.Itoa(segments(m.Text)),
		"price": nil, "price_unit": "USD", "sid": m.ID, "status": m.Status,
		"subresource_uris": map[string]string{"media": uri + "/Media.json"}, "to": m.To, "uri": uri + ".json",
	}
}

// twilioAuthorized checks Basic auth (Account SID and Auth Token) and the
// account in the path, answering 401/20003 when they are wrong.
func (e *Emulator) twilioAuthorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || r.PathValue("account") != e.opts.AccountSID || user != e.opts.AccountSID ||
		!hmac.Equal([]byte(pass), []byte(e.opts.AuthToken)) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return false
	}
	return true
}

// twilioFetch is GET .../Messages/{Sid}.json: one message, either
// direction; an unknown SID is 404 with code 20404.
func (e *Emulator) twilioFetch(w http.ResponseWriter, r *http.Request) {
	if !e.twilioAuthorized(w, r) {
		return
	}
	sid := strings.TrimSuffix(r.PathValue("sid"), ".json")
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.twilioLog {
		if m.ID == sid {
			writeJSON(w, http.StatusOK, e.twilioResourceLocked(m))
			return
		}
	}
	twilioNotFound(w, r)
}

// twilioList is GET .../Messages.json: newest first, filtered by To, From
// and DateSent (YYYY-MM-DD; DateSent< and DateSent> for ranges), a page of
// PageSize (default 50, at most 1000) at Page, with Twilio's paging URIs.
func (e *Emulator) twilioList(w http.ResponseWriter, r *http.Request) {
	if !e.twilioAuthorized(w, r) {
		return
	}
	q := r.URL.Query()
	size, page := 50, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			twilioError(w, http.StatusBadRequest, 20001, "Invalid PageSize: must be between 1 and 1000")
			return
		}
		size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			twilioError(w, http.StatusBadRequest, 20001, "Invalid Page")
			return
		}
		page = n
	}
	var day, before, after time.Time
	for key, t := range map[string]*time.Time{"DateSent": &day, "DateSent<": &before, "DateSent>": &after} {
		if v := q.Get(key); v != "" {
			d, err := parseTwilioDate(v)
			if err != nil {
				twilioError(w, http.StatusBadRequest, 20001, fmt.Sprintf("Invalid %s: %q", key, v))
				return
			}
			*t = d
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var match []*Message
	for i := len(e.twilioLog) - 1; i >= 0; i-- {
		m := e.twilioLog[i]
		sent := m.At.Truncate(24 * time.Hour)
		switch {
		case q.Get("To") != "" && m.To != q.Get("To"),
			q.Get("From") != "" && m.From != q.Get("From"),
			!day.IsZero() && !sent.Equal(day),
			!before.IsZero() && sent.After(before),
			!after.IsZero() && sent.Before(after):
			continue
		}
		match = append(match, m)
	}
	start := min(page*size, len(match))
	end := min(start+size, len(match))
	messages := make([]map[string]any, 0, end-start)
	for _, m := range match[start:end] {
		messages = append(messages, e.twilioResourceLocked(m))
	}
	base := "/2010-04-01/Accounts/" + e.opts.AccountSID + "/Messages.json"
	pageURI := func(n int) string {
		v := url.Values{}
		for _, k := range []string{"To", "From", "DateSent", "DateSent<", "DateSent>"} {
			if q.Get(k) != "" {
				v.Set(k, q.Get(k))
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(n))
		if n > 0 {
			v.Set("PageToken", "PA"+match[n*size-1].ID)
		}
		return base + "?" + v.Encode()
	}
	var next, previous any
	if end < len(match) {
		next = pageURI(page + 1)
	}
	if page > 0 {
		previous = pageURI(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messages": messages, "first_page_uri": pageURI(0), "next_page_uri": next, "previous_page_uri": previous,
		"page": page, "page_size": size, "start": start, "end": max(end-1, start), "uri": pageURI(page),
	})
}

func parseTwilioDate(v string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d, nil
	}
	d, err := time.Parse(time.RFC3339, v)
	return d.UTC().Truncate(24 * time.Hour), err
}

// twilioNotFound is Twilio's JSON 404 (code 20404): its SDKs read code
// and message from it.
func twilioNotFound(w http.ResponseWriter, r *http.Request) {
	twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

// twilioUnknown answers any other /2010-04-01/ path as Twilio does: JSON.
func (e *Emulator) twilioUnknown(w http.ResponseWriter, r *http.Request) { twilioNotFound(w, r) }
