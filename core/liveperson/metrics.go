package liveperson

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are always created so the code never checks for nil; they are
// registered only when Config.Metrics is set.
type metrics struct {
	requests      *prometheus.CounterVec   // op, status
	retries       *prometheus.CounterVec   // op, reason
	duration      *prometheus.HistogramVec // op
	tokenFetches  *prometheus.CounterVec   // kind, result
	domainLookups *prometheus.CounterVec   // result
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "leconnect", Subsystem: "liveperson", Name: "requests_total",
			Help: "HTTP attempts against LiveEngage by operation and HTTP status (\"error\" when no answer).",
		}, []string{"op", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "leconnect", Subsystem: "liveperson", Name: "retries_total",
			Help: "Retries made by the client retry policy, by operation and reason (rate_limited, server_error, transport, appjwt_renewed, consumer_jws_renewed).",
		}, []string{"op", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "leconnect", Subsystem: "liveperson", Name: "request_duration_seconds",
			Help:    "Duration of one HTTP attempt against LiveEngage.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"op"}),
		tokenFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "leconnect", Subsystem: "liveperson", Name: "token_fetches_total",
			Help: "AppJWT and consumer JWS fetches by kind (appjwt, consumer_jws) and result (ok, error).",
		}, []string{"kind", "result"}),
		domainLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "leconnect", Subsystem: "liveperson", Name: "domain_resolutions_total",
			Help: "Domain API resolutions by result (ok, error).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.retries, m.duration, m.tokenFetches, m.domainLookups} {
		if err := reg.Register(c); err != nil {
			// Typically AlreadyRegisteredError: one Client per registry.
			return nil, fmt.Errorf("register liveperson metrics: %w", err)
		}
	}
	return m, nil
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
