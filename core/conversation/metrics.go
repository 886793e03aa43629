package conversation

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leconnect/leconnect/core/store"
)

// metrics are the engine's Prometheus metrics.
type metrics struct {
	acceptedTotal  *prometheus.CounterVec   // queue, channel
	duplicateTotal *prometheus.CounterVec   // queue
	outcomesTotal  *prometheus.CounterVec   // queue, channel, outcome
	latency        *prometheus.HistogramVec // queue, channel: accepted → done
	publishedTotal *prometheus.CounterVec   // channel: consumer messages published to LiveEngage
	deliveredTotal *prometheus.CounterVec   // channel: agent messages delivered to consumers
	refusedTotal   *prometheus.CounterVec   // status: LiveEngage webhooks refused
	unowned        prometheus.Counter
	unparsed       prometheus.Counter
	filtered       prometheus.Counter
	opened         prometheus.Counter
	echoTimeouts   prometheus.Counter
	echoesTotal    prometheus.Counter
	sendsInDoubt   *prometheus.CounterVec
	claimSeconds   *prometheus.HistogramVec // queue: one Claim call
	claimedKeys    *prometheus.CounterVec   // queue: conversations claimed
	leaseLost      *prometheus.CounterVec   // queue: leases lost while working
	takeovers      *prometheus.CounterVec   // queue: conversations taken over from a lapsed lease
}

func newMetrics(reg prometheus.Registerer, st store.Store) *metrics {
	m := &metrics{
		acceptedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_events_accepted_total",
			Help: "Events committed to a queue (inbound: from channels; outbound: from LiveEngage)."}, []string{"queue", "channel"}),
		duplicateTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_events_duplicate_total",
			Help: "Events dropped as duplicates of already accepted ones."}, []string{"queue"}),
		outcomesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_items_processed_total",
			Help: "Attempts at queued items by outcome (done, retry, dead_letter)."}, []string{"queue", "channel", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "leconnect_item_latency_seconds",
			Help:    "Time from an item's commit to its completion.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"queue", "channel"}),
		publishedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_messages_in_total",
			Help: "Consumer messages published to LiveEngage."}, []string{"channel"}),
		deliveredTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_messages_out_total",
			Help: "Agent messages delivered to consumers."}, []string{"channel"}),
		refusedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_liveengage_webhooks_refused_total",
			Help: "LiveEngage webhook requests refused, by HTTP status."}, []string{"status"}),
		unparsed: prometheus.NewCounter(prometheus.CounterOpts{Name: "leconnect_notifications_unparsed_total",
			Help: "Changes in signed LiveEngage notifications leconnect cannot parse or act on: answered 200 and dead-lettered."}),
		unowned: prometheus.NewCounter(prometheus.CounterOpts{Name: "leconnect_notifications_unowned_total",
			Help: "LiveEngage notifications for conversations leconnect did not open (ignored)."}),
		filtered: prometheus.NewCounter(prometheus.CounterOpts{Name: "leconnect_notifications_private_total",
			Help: "Agent messages for agents and managers only (not delivered)."}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{Name: "leconnect_conversations_opened_total",
			Help: "LiveEngage conversations opened."}),
		echoTimeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "leconnect_echo_timeouts_total",
			Help: "Uncertain publishes published again after no echo arrived (possible duplicates)."}),
		echoesTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "leconnect_echoes_recorded_total",
			Help: "LiveEngage's echoes of consumer events leconnect published, recorded at the webhook without queueing (they need no delivery)."}),
		sendsInDoubt: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_sends_in_doubt_total",
			Help: "Sends an earlier attempt may have made (begun, never recorded: the adapter died meanwhile), by channel and outcome: resent (possible duplicates), skipped (the agent is told), resent_after_takeover (a cluster instance died while sending; no record appeared within delivery.in_doubt_wait)."}, []string{"channel", "outcome"}),
		claimSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "leconnect_claim_seconds",
			Help:    "Time of one claim of conversations from a queue's store (claims run when workers are free and items wait).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9)}, []string{"queue"}),
		claimedKeys: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_claimed_total",
			Help: "Conversations this instance claimed from a queue (each claim holds the conversation until it is drained or given back)."}, []string{"queue"}),
		leaseLost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_leases_lost_total",
			Help: "Conversations this instance lost while working on them (its lease lapsed and another instance took over)."}, []string{"queue"}),
		takeovers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leconnect_takeovers_total",
			Help: "Conversations this instance took over from a lease that lapsed without being given back (its holder died or stalled)."}, []string{"queue"}),
	}
	reg.MustRegister(m.acceptedTotal, m.duplicateTotal, m.outcomesTotal, m.latency, m.publishedTotal, m.deliveredTotal,
		m.refusedTotal, m.unowned, m.unparsed, m.filtered, m.opened, m.echoTimeouts, m.echoesTotal, m.sendsInDoubt, m.claimSeconds, m.claimedKeys, m.leaseLost, m.takeovers)
	reg.MustRegister(depthCollector{st: st, desc: prometheus.NewDesc("leconnect_queue_depth", "Items waiting in a queue.", []string{"queue"}, nil)})
	return m
}

// depthCollector reports queue depths at scrape time.
type depthCollector struct {
	st   store.Store
	desc *prometheus.Desc
}

func (c depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, q := range []store.Queue{c.st.Inbound(), c.st.Outbound()} {
		if n, err := q.Depth(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(q.Name()))
		}
	}
}

// channelOf reads the channel from an inbound key; outbound keys are
// conversations, labelled "liveengage".
func channelOf(q store.QueueName, key string) string {
	if q == store.Inbound {
		if ch, _, found := strings.Cut(key, "\x00"); found {
			return ch
		}
	}
	return "liveengage"
}

func (m *metrics) observe(q store.QueueName) func(store.Item, result, time.Duration) {
	return func(it store.Item, r result, _ time.Duration) {
		ch := channelOf(q, it.Key)
		switch r.outcome {
		case outcomeDone:
			m.outcomesTotal.WithLabelValues(string(q), ch, "done").Inc()
			m.latency.WithLabelValues(string(q), ch).Observe(time.Since(it.EnqueuedAt).Seconds())
		case outcomeRetry:
			m.outcomesTotal.WithLabelValues(string(q), ch, "retry").Inc()
		case outcomeDeadLetter:
			m.outcomesTotal.WithLabelValues(string(q), ch, "dead_letter").Inc()
		}
	}
}

func (m *metrics) accepted(q store.QueueName, channel string, res []store.EnqueueResult) {
	if channel == "" {
		channel = "liveengage"
	}
	for _, r := range res {
		if r.Duplicate {
			m.duplicateTotal.WithLabelValues(string(q)).Inc()
		} else {
			m.acceptedTotal.WithLabelValues(string(q), channel).Inc()
		}
	}
}

func (m *metrics) published(channel string) { m.publishedTotal.WithLabelValues(channel).Inc() }
func (m *metrics) delivered(channel string) { m.deliveredTotal.WithLabelValues(channel).Inc() }
func (m *metrics) webhookRefused(status int) {
	m.refusedTotal.WithLabelValues(strconv.Itoa(status)).Inc()
}
