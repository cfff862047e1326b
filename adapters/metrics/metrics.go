// Package metrics exposes the bridge's Prometheus metrics (client_golang) and implements the
// core's Observer. One registry per process, so tests and several in-process bridges (the
// demo, the scenarios) do not collide on the global one.
package metrics

import (
	"errors"
	"net/http"
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
			Help: "ACD webhook deliveries by HTTP status."}, []string{"status"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_intake_created_total",
			Help: "New CRM chats handed to the ACD by intake, by site and queue."}, []string{"site", "queue"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mbb_reconciled_total",
			Help: "Legs the reconciler resolved, by the state they were stuck in."}, []string{"state"}),
	}
	m.reg.MustRegister(m.pops, m.popLatency, m.transitions, m.absorbed, m.acdCalls, m.webhooks, m.intake, m.reconciled,
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
