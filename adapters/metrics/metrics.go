// Package metrics exposes the bridge's Prometheus metrics (client_golang) and implements the
// core's Observer. One registry per process, so tests and several in-process bridges (the
// demo, the scenarios) do not collide on the global one.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Metrics holds the collectors.
type Metrics struct {
	reg         *prometheus.Registry
	pops        *prometheus.CounterVec
	popLatency  prometheus.Histogram
	transitions *prometheus.CounterVec
	absorbed    *prometheus.CounterVec
	acdCalls    *prometheus.CounterVec
	webhooks    *prometheus.CounterVec
	intake      *prometheus.CounterVec
	reconciled  *prometheus.CounterVec
	requeues    *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
}

var _ bridge.Observer = (*Metrics)(nil)

// New registers the bridge's collectors on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		pops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_pops_total",
			Help: "Pops finished, by verbatim CRM result code (or bridge failure kind) and decision."}, []string{"code", "decision"}),
		popLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mbb_pop_crm_seconds",
			Help: "Latency of the CRM route call of a pop.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_transitions_total",
			Help: "Interaction state transitions applied."}, []string{"from", "to"}),
		absorbed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_absorbed_total",
			Help: "Events absorbed instead of applied (duplicates, late or illegal transitions)."}, []string{"reason"}),
		acdCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_acd_calls_total",
			Help: "ACD calls made from the outbox, by kind and result."}, []string{"kind", "result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_webhook_events_total",
			Help: "ACD webhook deliveries by event type (\"unknown\" before it is parsed) and result: accepted, duplicate (dedupe hit), ignored, invalid_signature, malformed, invalid, too_large, unavailable."}, []string{"type", "result"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_intake_created_total",
			Help: "New CRM chats handed to the ACD by intake, by site and queue."}, []string{"site", "queue"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_reconciled_total",
			Help: "Legs the reconciler resolved, by the state they were stuck in."}, []string{"state"}),
		requeues: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_requeues_total",
			Help: "Chats given back to the ACD, by the code behind it and whether the requeue went to the escalation queue."}, []string{"code", "escalated"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_dead_letters_total",
			Help: "ACD calls the outbox gave up on, by kind (listed at GET /v1/acd/dead-letters)."}, []string{"kind"}),
	}
	m.reg.MustRegister(m.pops, m.popLatency, m.transitions, m.absorbed, m.acdCalls, m.webhooks, m.intake, m.reconciled,
		m.requeues, m.deadLetters,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry lets other adapters register their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// PopFinished implements bridge.Observer.
func (m *Metrics) PopFinished(code string, requeue bool, d time.Duration) {
	decision := "no_requeue"
	if requeue {
		decision = "requeue"
	}
	m.pops.WithLabelValues(code, decision).Inc()
	m.popLatency.Observe(d.Seconds())
}

// Transition implements bridge.Observer.
func (m *Metrics) Transition(from, to bridge.State) {
	m.transitions.WithLabelValues(string(from), string(to)).Inc()
}

// Absorbed implements bridge.Observer.
func (m *Metrics) Absorbed(reason string) { m.absorbed.WithLabelValues(reason).Inc() }

// ACDCallFinished implements bridge.Observer.
func (m *Metrics) ACDCallFinished(kind bridge.ACDCallKind, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, bridge.ErrRejected):
		result = "rejected"
	default:
		result = "failed"
	}
	m.acdCalls.WithLabelValues(string(kind), result).Inc()
}

// IntakeCreated implements bridge.Observer.
func (m *Metrics) IntakeCreated(site, queueID string) { m.intake.WithLabelValues(site, queueID).Inc() }

// Reconciled implements bridge.Observer.
func (m *Metrics) Reconciled(state bridge.State) { m.reconciled.WithLabelValues(string(state)).Inc() }

// Requeued implements bridge.Observer.
func (m *Metrics) Requeued(code string, escalated bool) {
	m.requeues.WithLabelValues(code, strconv.FormatBool(escalated)).Inc()
}

// DeadLettered implements bridge.Observer.
func (m *Metrics) DeadLettered(kind bridge.ACDCallKind) {
	m.deadLetters.WithLabelValues(string(kind)).Inc()
}

// WebhookHandled counts one ACD webhook delivery by event type and result.
func (m *Metrics) WebhookHandled(eventType, result string) {
	m.webhooks.WithLabelValues(eventType, result).Inc()
}
