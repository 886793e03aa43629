package sms

import (
	"encoding/json"
	"errors"
	"net/http"
)

// controlPrefix is where the control API lives.
const controlPrefix = "/fake/sms/api/"

// controlRoutes serves the control API; each route mirrors a Go method:
//
//	GET  numbers                  Numbers        POST numbers   AddNumber (a Number)
//	POST phones/{phone}/messages  PhoneSend      {"to","text","media":[{"content_type","data"(base64)}]}
//	GET  phones/{phone}/messages  Received
//	GET  messages                 Outbound
//	GET  deliveries               Deliveries
//	POST faults                   AddFault (a Fault)
//	POST inbound/{id}/replay      Replay
//	POST reset                    Reset
func (e *Emulator) controlRoutes(m *http.ServeMux) {
	p := controlPrefix
	m.HandleFunc("GET "+p+"numbers", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.Numbers()) })
	m.HandleFunc("POST "+p+"numbers", func(w http.ResponseWriter, r *http.Request) {
		var n Number
		if !decode(w, r, &n) {
			return
		}
		if err := e.AddNumber(n); err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, n)
	})
	m.HandleFunc("POST "+p+"phones/{phone}/messages", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			To    string  `json:"to"`
			Text  string  `json:"text"`
			Media []Media `json:"media"`
		}
		if !decode(w, r, &in) {
			return
		}
		e.base(r)
		sent, err := e.PhoneSend(r.PathValue("phone"), in.To, in.Text, in.Media...)
		if err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, sent)
	})
	m.HandleFunc("GET "+p+"phones/{phone}/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.Received(r.PathValue("phone")))
	})
	m.HandleFunc("GET "+p+"messages", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.Outbound()) })
	m.HandleFunc("GET "+p+"deliveries", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.Deliveries()) })
	m.HandleFunc("POST "+p+"faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if !decode(w, r, &f) {
			return
		}
		if err := e.AddFault(f); err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	m.HandleFunc("POST "+p+"inbound/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		d, err := e.Replay(r.PathValue("id"))
		if err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
	m.HandleFunc("POST "+p+"reset", func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return false
	}
	return true
}

// controlError maps the Go methods' errors to statuses.
func controlError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknownNumber), errors.Is(err, ErrUnknownID):
		status = http.StatusNotFound
	case errors.Is(err, ErrInvalidInput):
		status = http.StatusBadRequest
	case errors.Is(err, ErrClosed):
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
