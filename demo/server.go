package demo

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	smsemu "github.com/leconnect/leconnect/emulator/sms"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

//go:embed web
var webFiles embed.FS

type serverDeps struct {
	le      *liveengage.Emulator
	tg      *tgemu.Emulator
	phones  []Phone
	traffic *traffic
	coreURL string
}

// server is the page and its API. The agent workspace is the LiveEngage
// emulator's own (its workspace.js and workspace.css under /emulator/,
// talking to its agent API /emulator/api/, all mounted as is); the phones
// talk to /demo/api/phones/.
type server struct {
	serverDeps
	mux    *http.ServeMux
	client *http.Client
}

func newServer(d serverDeps) *server {
	s := &server{serverDeps: d, mux: http.NewServeMux(), client: &http.Client{Timeout: 5 * time.Second}}
	web, _ := fs.Sub(webFiles, "web")
	// No method in the pattern: "GET /" would conflict with "/emulator/".
	s.mux.Handle("/", http.FileServerFS(web))
	s.mux.Handle("/emulator/", d.le.Handler())
	s.mux.Handle("/fake/telegram/", d.tg.Handler())
	s.mux.HandleFunc("GET /demo/api/info", s.info)
	s.mux.HandleFunc("GET /demo/api/phones/{channel}", s.timeline)
	s.mux.HandleFunc("GET /demo/api/phones/{channel}/events", s.phoneEvents)
	s.mux.HandleFunc("POST /demo/api/phones/{channel}/send", s.send)
	s.mux.HandleFunc("POST /demo/api/phones/{channel}/press", s.press)
	s.mux.HandleFunc("GET /demo/api/phones/{channel}/media/{id}", s.media)
	s.mux.HandleFunc("GET /demo/api/traffic", s.getTraffic)
	s.mux.HandleFunc("POST /demo/api/traffic", s.setTraffic)
	s.mux.HandleFunc("GET /demo/api/metrics", s.metrics)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Loopback only, but still: the page is the only intended client.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

type infoResp struct {
	Phones     []PhoneInfo `json:"phones"`
	MetricsURL string      `json:"metricsUrl"`
	AccountID  string      `json:"accountId"`
	Traffic    bool        `json:"traffic"`
}

func (s *server) info(w http.ResponseWriter, r *http.Request) {
	out := infoResp{MetricsURL: s.coreURL + "/metrics", AccountID: accountID, Traffic: s.traffic.on.Load()}
	for _, p := range s.phones {
		out.Phones = append(out.Phones, p.Info())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) phone(w http.ResponseWriter, r *http.Request) (Phone, bool) {
	for _, p := range s.phones {
		if p.Info().Channel == r.PathValue("channel") {
			return p, true
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no phone for channel " + r.PathValue("channel")})
	return nil, false
}

func (s *server) timeline(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.phone(w, r); ok {
		writeJSON(w, http.StatusOK, p.Timeline())
	}
}

// phoneEvents streams the phone's timeline as SSE "timeline" events: one at
// once, then one per change.
func (s *server) phoneEvents(w http.ResponseWriter, r *http.Request) {
	p, ok := s.phone(w, r)
	if !ok {
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	for {
		t := p.Timeline()
		b, _ := json.Marshal(t)
		if _, err := fmt.Fprintf(w, "event: timeline\ndata: %s\n\n", b); err != nil {
			return
		}
		fl.Flush()
		// A heartbeat every 15 s keeps proxies and the browser patient.
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := p.WaitChange(wctx, t.Version)
		cancel()
		if ctx.Err() != nil || errors.Is(err, tgemu.ErrClosed) || errors.Is(err, smsemu.ErrClosed) {
			return
		}
	}
}

func (s *server) send(w http.ResponseWriter, r *http.Request) {
	p, ok := s.phone(w, r)
	if !ok {
		return
	}
	var in struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil || strings.TrimSpace(in.Text) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"text\": \"...\"}"})
		return
	}
	if err := p.Send(r.Context(), in.Text); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, p.Timeline())
}

func (s *server) press(w http.ResponseWriter, r *http.Request) {
	p, ok := s.phone(w, r)
	if !ok {
		return
	}
	var in struct {
		MessageID string `json:"messageId"`
		Data      string `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"messageId\": \"...\", \"data\": \"...\"}"})
		return
	}
	if err := p.Press(r.Context(), in.MessageID, in.Data); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, p.Timeline())
}

// media serves a picture the business sent to a phone (PhoneMessage.Image).
func (s *server) media(w http.ResponseWriter, r *http.Request) {
	p, ok := s.phone(w, r)
	if !ok {
		return
	}
	mp, ok := p.(MediaPhone)
	var data []byte
	var ct string
	if ok {
		data, ct, ok = mp.Media(r.PathValue("id"))
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no media " + r.PathValue("id")})
		return
	}
	if ct == "" {
		ct = http.DetectContentType(data)
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(data)
}

type trafficResp struct {
	On    bool  `json:"on"`
	Steps int64 `json:"steps"`
}

func (s *server) getTraffic(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, trafficResp{s.traffic.on.Load(), s.traffic.steps.Load()})
}

func (s *server) setTraffic(w http.ResponseWriter, r *http.Request) {
	var in struct {
		On bool `json:"on"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"on\": true|false}"})
		return
	}
	s.traffic.set(in.On)
	s.getTraffic(w, r)
}

// Metric is one series family of the core's /metrics, summed over labels.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// metrics reads the core's /metrics and sums each leconnect_ counter and
// gauge over its labels, for the page's small live table.
func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, s.coreURL+"/metrics", nil)
	res, err := s.client.Do(req)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	defer res.Body.Close()
	out, err := sumMetrics(res.Body)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// sumMetrics reads the Prometheus text format and sums each leconnect_
// series over its labels; histogram buckets are left out.
func sumMetrics(r io.Reader) ([]Metric, error) {
	sums := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "leconnect_") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// The value follows the closing brace; label values may hold spaces.
			j := strings.LastIndexByte(line, '}')
			name, rest = line[:i], strings.TrimSpace(line[j+1:])
		}
		if strings.HasSuffix(name, "_bucket") {
			continue
		}
		fields := strings.Fields(rest) // value, then an optional timestamp
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		sums[name] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	out := make([]Metric, 0, len(sums))
	for n, v := range sums {
		out = append(out, Metric{n, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
