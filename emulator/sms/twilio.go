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
	user, pass, ok := r.BasicAuth()
	if !ok || r.PathValue("account") != e.opts.AccountSID || user != e.opts.AccountSID ||
		!hmac.Equal([]byte(pass), []byte(e.opts.AuthToken)) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
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
		e.twilioAccept(w, p, from, to, service, body, media)
	}
}

func (e *Emulator) twilioAccept(w http.ResponseWriter, p url.Values, from, to, service, body string, media []string) {
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
	m := &Message{Provider: Twilio, ID: sid, From: from, To: to, Text: body, Status: status, Callback: p.Get("StatusCallback"), At: now}
	e.mu.Lock()
	e.outbound = append(e.outbound, m)
	e.notifyLocked()
	e.mu.Unlock()
	date := now.Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + e.opts.AccountSID + "/Messages/" + sid
	var serviceSID any
	if service != "" {
		serviceSID = service
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid": e.opts.AccountSID, "api_version": "2010-04-01", "body": body,
		"date_created": date, "date_sent": nil, "date_updated": date, "direction": "outbound-api",
		"error_code": nil, "error_message": nil, "from": from, "messaging_service_sid": serviceSID,
		"num_media": strconv.Itoa(len(media)), "num_segments": strconv.Itoa(segments(body)),
		"price": nil, "price_unit": "USD", "sid": sid, "status": status,
		"subresource_uris": map[string]string{"media": uri + "/Media.json"}, "to": to, "uri": uri + ".json",
	})
	e.goAsync(func() { e.twilioDeliver(m, media, service) })
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
