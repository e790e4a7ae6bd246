package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's metrics on their own registry.
type Metrics struct {
	reg      *prometheus.Registry
	Logins   *prometheus.CounterVec   // result: success, failure, limited
	Requests *prometheus.CounterVec   // route, code
	Duration *prometheus.HistogramVec // route
	// Panics counts handler panics (each answered 500 and logged).
	Panics prometheus.Counter
	// StorageFull counts writes refused for lack of space (answered 507).
	StorageFull prometheus.Counter
	// Revocations counts tokens revoked one by one (RFC 7009).
	Revocations prometheus.Counter
	// Introspections counts RFC 7662 answers by active: true, false.
	Introspections *prometheus.CounterVec
	// AuditWriteFailures counts audit entries the store refused (each
	// logged; the request they describe was not failed for it unless it
	// would have revealed a secret).
	AuditWriteFailures prometheus.Counter
}

// New returns metrics registered on a fresh registry (with Go and process
// collectors).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_logins_total", Help: "v2 logins and token requests by result.",
		}, []string{"result"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orchestrator_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		Panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orchestrator_http_panics_total", Help: "HTTP handler panics, each answered 500.",
		}),
		StorageFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orchestrator_storage_full_total", Help: "Requests refused with 507 because the store had no space left.",
		}),
		Revocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orchestrator_revocations_total", Help: "Tokens revoked through POST /oauth2/revoke (RFC 7009).",
		}),
		Introspections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_introspections_total", Help: "Answers of POST /oauth2/introspect (RFC 7662) by whether the token was active.",
		}, []string{"active"}),
		AuditWriteFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orchestrator_audit_write_failures_total", Help: "Audit log entries that could not be written (each logged).",
		}),
	}
	for _, r := range []string{"success", "failure", "limited"} {
		m.Logins.WithLabelValues(r)
	}
	for _, a := range []string{"true", "false"} {
		m.Introspections.WithLabelValues(a)
	}
	m.reg.MustRegister(m.Logins, m.Requests, m.Duration, m.Panics, m.StorageFull, m.Revocations, m.Introspections, m.AuditWriteFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Degraded registers orchestrator_shared_degraded{part}: 1 while fn
// reports the part (a zone-shared facility such as Redis invalidation or
// limits) degraded, else 0.
func (m *Metrics) Degraded(part string, fn func() error) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "orchestrator_shared_degraded", Help: "1 while a facility shared by the zone's nodes (Redis) is unreachable and the node runs on its own bounds.",
		ConstLabels: prometheus.Labels{"part": part},
	}, func() float64 {
		if fn() != nil {
			return 1
		}
		return 0
	}))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
