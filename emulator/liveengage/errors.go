package liveengage

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// errorBody is the body of the unified error envelope (§5.1, §5.2).
type errorBody struct {
	Title     string `json:"title"`
	Details   string `json:"details"`
	ErrorCode int    `json:"errorCode"`
}

type errorResp struct {
	Kind  string    `json:"kind"`
	ReqID string    `json:"reqId,omitempty"`
	Code  int       `json:"code"`
	Body  errorBody `json:"body"`
	Type  string    `json:"type"`
}

// writeAuthError writes a §5.1 authorization error; like the documented
// example it carries no reqId.
func writeAuthError(w http.ResponseWriter, a *authError) {
	writeUnifiedError(w, a.status, "", a.code, a.title, a.detail)
}

// writeUnifiedError writes {"kind":"resp","reqId":..,"code":N,"body":{title,
// details,errorCode},"type":".ReqBody$ErrorResp"}.
func writeUnifiedError(w http.ResponseWriter, status int, reqID string, errorCode int, title, details string) {
	b, _ := json.Marshal(errorResp{
		Kind:  "resp",
		ReqID: reqID,
		Code:  status,
		Body:  errorBody{Title: title, Details: details, ErrorCode: errorCode},
		Type:  ".ReqBody$ErrorResp",
	})
	writeJSONBytes(w, status, b)
}

// msgResp is the lighter success-style envelope used for both successes and
// business errors: {"code":"OK"|"BAD_REQUEST","body":{..},"reqId":".."}.
type msgResp struct {
	Code  string `json:"code"`
	Body  any    `json:"body"`
	ReqID string `json:"reqId"`
}

type msgBody struct {
	Msg string `json:"msg"`
}

func okMsg(reqID, msg string) msgResp { return msgResp{"OK", msgBody{msg}, reqID} }

func badRequest(reqID, msg string) msgResp { return msgResp{"BAD_REQUEST", msgBody{msg}, reqID} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSONBytes(w, status, b)
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var jsonContentType = []string{"application/json"}

// writeSequence writes the SEND success body without reflection: this is the
// hot path of every benchmark.
func writeSequence(w http.ResponseWriter, reqID string, seq int) {
	b := make([]byte, 0, 64+len(reqID))
	b = append(b, `{"code":"OK","body":{"sequence":`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `},"reqId":`...)
	b = appendJSONString(b, reqID)
	b = append(b, '}')
	writeJSONBytes(w, http.StatusOK, b)
}

func appendJSONString(b []byte, s string) []byte {
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			safe = false
			break
		}
	}
	if safe {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s)
	return append(b, q...)
}
