package sms

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// ServeHTTP receives the provider's webhooks, forwarded by the core from
// /channels/<name>/webhook:
//
//	POST|GET <webhook>           inbound message (Twilio form / Vonage JSON, form or query)
//	POST|GET <webhook>/status    Twilio status callback / Vonage delivery receipt
//	GET      <webhook>/media/<id> agent files the provider fetches (signed URL)
//
// Provider requests are authenticated first (X-Twilio-Signature, or the
// Vonage ?token=); a failure answers 403 and delivers nothing. An inbound
// message is acknowledged only once the core stored it; a failure answers
// 503 (Vonage retries; Twilio only with a retry policy in the URL, §3.1).
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg, prov, host, st, media := a.snapshot()
	if cfg == nil || host == nil {
		http.Error(w, "not started", http.StatusServiceUnavailable)
		return
	}
	if i := strings.LastIndex(r.URL.Path, "/media/"); i >= 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		media.serve(w, r, r.URL.Path[i+len("/media/"):], a.now())
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	params, err := prov.params(r, body)
	if err != nil {
		a.log.Warn("sms webhook refused: unreadable parameters", "err", err)
		http.Error(w, "unreadable parameters", http.StatusBadRequest)
		return
	}
	if !prov.authentic(r, params, signatureURL(cfg, host, r)) {
		a.log.Warn("sms webhook refused: missing or wrong signature", "provider", cfg.provider, "remote_addr", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/status") {
		a.handleStatus(r.Context(), w, prov, host, st, params)
		return
	}
	a.handleInbound(r.Context(), w, cfg, prov, host, st, params)
}

// signatureURL is the URL the provider called and signed: the full public
// URL the core rebuilt (server.public_url + path + query), or, when
// public_url is configured, that URL with the same path suffix and query.
func signatureURL(cfg *settings, host sdk.Host, r *http.Request) string {
	if cfg.publicURL == "" {
		return r.URL.String()
	}
	hookPath := ""
	if u, err := url.Parse(host.WebhookURL()); err == nil {
		hookPath = u.EscapedPath()
	}
	s := cfg.publicURL
	if suffix := strings.TrimPrefix(r.URL.EscapedPath(), hookPath); suffix != "" {
		s = strings.TrimRight(s, "/") + suffix
	}
	if r.URL.RawQuery != "" {
		s += "?" + r.URL.RawQuery
	}
	return s
}

func (a *Adapter) handleInbound(ctx context.Context, w http.ResponseWriter, cfg *settings, prov provider, host sdk.Host, st *state, params url.Values) {
	in, err := prov.inbound(params)
	if err != nil {
		a.log.Warn("sms inbound webhook not usable", "err", err)
		http.Error(w, "not an inbound message", http.StatusBadRequest)
		return
	}
	if in.Concat != nil {
		complete, err := a.addPart(st, &in)
		if err != nil {
			a.log.Error("sms message part not stored; the provider will retry", "err", err)
			http.Error(w, "not stored, retry later", http.StatusServiceUnavailable)
			return
		}
		if !complete {
			prov.acknowledge(w) // the part is stored durably: it will not be lost
			return
		}
	}
	ev := sdk.Event{ID: in.ID, OccurredAt: in.At, Address: sdk.Address{ChatID: in.From},
		Consumer: sdk.Consumer{ID: in.From, Phone: in.From, DisplayName: in.From, Attributes: in.Profile}}
	var pending offered // the options the answer was read against
	kw := ""
	if len(in.Media) == 0 {
		kw = keyword(in.Text, in.OptOut)
	}
	switch kw {
	case "STOP":
		// The carrier (or provider) already blocks further messages; close
		// the conversation so the agent knows, and refuse sends from now on.
		ev.End = &sdk.EndConversation{Reason: "the consumer sent " + strings.ToUpper(strings.TrimSpace(in.Text)) + " and opted out of SMS"}
		// Saved first: a send refused too early is harmless, one let
		// through after STOP is not.
		if err := st.update(func(d *stateData) error {
			d.OptedOut[in.From] = a.now()
			delete(d.Choices, in.From)
			return nil
		}); err != nil {
			a.log.Error("sms opt-out not saved", "err", err)
			http.Error(w, "not stored, retry later", http.StatusServiceUnavailable)
			return
		}
		if err := host.Deliver(ctx, ev); err != nil {
			a.log.Error("sms opt-out not accepted by the core", "err", err)
			http.Error(w, "not accepted, retry later", http.StatusServiceUnavailable)
			return
		}
		a.log.Info("sms consumer opted out")
		prov.acknowledge(w)
		return
	case "START":
		if err := st.update(func(d *stateData) error { delete(d.OptedOut, in.From); return nil }); err != nil {
			a.log.Error("sms opt-in not saved", "err", err)
			http.Error(w, "not stored, retry later", http.StatusServiceUnavailable)
			return
		}
	case "HELP":
		if cfg.helpText != "" {
			if _, err := prov.send(ctx, outboundSMS{To: in.From, Text: cfg.helpText}); err != nil {
				a.log.Error("sms help text not sent", "err", err)
			}
			prov.acknowledge(w)
			return
		}
	}
	msg := &sdk.Message{ID: in.ID, Text: in.Text}
	if kw == "" && len(in.Media) == 0 {
		st.read(func(d *stateData) { pending = d.Choices[in.From] })
		if c, ok := pickChoice(in.Text, pending.Choices); ok {
			msg.Choice = &c
		}
	}
	if len(in.Media) > 0 {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second) // Twilio waits 15 s in all
		for i, m := range in.Media {
			data, ct, err := prov.fetch(fctx, m.URL)
			if err != nil {
				a.log.Error("sms media not fetched", "err", err, "index", i)
				msg.Text = strings.TrimSpace(msg.Text + "\n[an attachment could not be fetched]")
				continue
			}
			if m.ContentType != "" {
				ct = m.ContentType
			}
			msg.Media = append(msg.Media, sdk.Media{Kind: mediaKind(ct), ContentType: ct, FileName: fileName(i, ct), Data: data})
		}
		cancel()
	}
	if msg.Text == "" && len(msg.Media) == 0 {
		prov.acknowledge(w) // an empty SMS: nothing to pass on
		return
	}
	ev.Message = msg
	if err := host.Deliver(ctx, ev); err != nil {
		a.log.Error("sms message not accepted by the core", "err", err)
		http.Error(w, "not accepted, retry later", http.StatusServiceUnavailable)
		return
	}
	if msg.Choice != nil || in.Concat != nil {
		if err := st.update(func(d *stateData) error {
			// Options are used once, unless the core offered new ones
			// meanwhile (the answer's reply may be on its way already).
			if cur, ok := d.Choices[in.From]; msg.Choice != nil && ok && cur.At.Equal(pending.At) {
				delete(d.Choices, in.From)
			}
			if in.Concat != nil {
				delete(d.Parts, concatKey(in))
			}
			return nil
		}); err != nil {
			a.log.Error("sms state not saved", "err", err)
		}
	}
	prov.acknowledge(w)
}

func concatKey(in inboundSMS) string { return in.From + "|" + in.To + "|" + in.Concat.Ref }

// addPart stores one part of a concatenated message. When the last one is
// in, in becomes the whole message, with an id made of the first part's.
func (a *Adapter) addPart(st *state, in *inboundSMS) (bool, error) {
	key := concatKey(*in)
	var whole *concat
	err := st.update(func(d *stateData) error {
		c := d.Parts[key]
		if c == nil || c.Total != in.Concat.Total {
			c = &concat{Total: in.Concat.Total, Parts: map[int]string{}, IDs: map[int]string{}, At: a.now()}
			d.Parts[key] = c
		}
		c.Parts[in.Concat.Part] = in.Text
		c.IDs[in.Concat.Part] = in.ID
		if len(c.Parts) == c.Total {
			cp := *c
			whole = &cp
		}
		return nil
	})
	if err != nil || whole == nil {
		return false, err
	}
	nums := make([]int, 0, len(whole.Parts))
	for n := range whole.Parts {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	var b strings.Builder
	for _, n := range nums {
		b.WriteString(whole.Parts[n])
	}
	in.Text = b.String()
	in.ID = "concat:" + whole.IDs[nums[0]]
	return true, nil
}

// handleStatus turns a status callback into a receipt, only ever forward:
// a report for a status already passed (or repeated) is acknowledged and
// dropped. queued, sent, failed and undelivered make no receipt.
func (a *Adapter) handleStatus(ctx context.Context, w http.ResponseWriter, prov provider, host sdk.Host, st *state, params url.Values) {
	rep, err := prov.status(params)
	if err != nil {
		a.log.Warn("sms status callback not usable", "err", err)
		http.Error(w, "not a status report", http.StatusBadRequest)
		return
	}
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	var known sentMessage
	var ok bool
	st.read(func(d *stateData) { known, ok = d.Sent[rep.ID] })
	phone := known.Phone
	if phone == "" {
		phone = rep.Phone
	}
	if rep.Status == "failed" || rep.Status == "undelivered" || rep.Status == "rejected" || rep.Status == "expired" {
		a.log.Warn("sms message not delivered", "message_id", rep.ID, "status", rep.Status, "error_code", rep.ErrorCode)
		if rep.ErrorCode == "21610" && phone != "" {
			_ = st.update(func(d *stateData) error { d.OptedOut[phone] = a.now(); return nil })
		}
	}
	rank := receiptRank(rep.Status)
	if rank == rankNone || (ok && known.Rank >= rank) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if phone == "" {
		a.log.Warn("sms status for a message this channel did not send", "message_id", rep.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	status := sdk.ReceiptDelivered
	if rank == rankRead {
		status = sdk.ReceiptRead
	}
	ev := sdk.Event{ID: rep.ID + ":" + rep.Status, OccurredAt: a.now(), Address: sdk.Address{ChatID: phone},
		Consumer: sdk.Consumer{ID: phone, Phone: phone}, Receipt: &sdk.Receipt{Status: status, MessageIDs: []string{rep.ID}}}
	if err := host.Deliver(ctx, ev); err != nil {
		a.log.Error("sms receipt not accepted by the core", "err", err)
		http.Error(w, "not accepted, retry later", http.StatusServiceUnavailable)
		return
	}
	if err := st.update(func(d *stateData) error {
		s := d.Sent[rep.ID]
		s.Phone, s.Rank = phone, max(s.Rank, rank)
		if s.At.IsZero() {
			s.At = a.now()
		}
		d.Sent[rep.ID] = s
		return nil
	}); err != nil {
		a.log.Error("sms receipt state not saved", "err", err)
	}
	w.WriteHeader(http.StatusOK)
}

func mediaKind(contentType string) sdk.MediaKind {
	ct, _, _ := mime.ParseMediaType(contentType)
	switch {
	case strings.HasPrefix(ct, "image/"):
		return sdk.MediaImage
	case strings.HasPrefix(ct, "audio/"):
		return sdk.MediaAudio
	case strings.HasPrefix(ct, "video/"):
		return sdk.MediaVideo
	}
	return sdk.MediaFile
}

func fileName(i int, contentType string) string {
	ext := ""
	if exts, _ := mime.ExtensionsByType(contentType); len(exts) > 0 {
		ext = exts[0]
	}
	switch contentType {
	case "image/jpeg":
		ext = ".jpg"
	case "image/png":
		ext = ".png"
	}
	return fmt.Sprintf("mms-%d%s", i+1, ext)
}
