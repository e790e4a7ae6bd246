package metrics

import (
	"net/http"
	"time"

	"github.com/orchestrator/orchestrator/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's metrics on their own registry.
type Metrics struct {
	reg      *prometheus.Registry
	Logins   *prometheus.CounterVec   // result: success, failure, limited
	Requests *prometheus.CounterVec   // route, method, code
	Duration *prometheus.HistogramVec // route, method
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

	// CommitBatch and CommitDuration describe the embedded store's group
	// commits: how many writes each commit made durable together, and
	// how long the transaction took from BEGIN to the end of COMMIT (the
	// fsync).
	CommitBatch    prometheus.Histogram
	CommitDuration prometheus.Histogram
	// Limits counts the decisions of the failure limiters by limiter
	// (login-user, login-addr, admin-addr, console-user, console-addr)
	// and result (allowed, limited).
	Limits *prometheus.CounterVec
	// PurgeRuns and Purged count the background purges by kind
	// (expired_properties, revoked_tokens, audit, evaluation_logs): runs
	// and the rows they deleted.
	PurgeRuns *prometheus.CounterVec
	Purged    *prometheus.CounterVec
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
			Name: "orchestrator_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orchestrator_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
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
		CommitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "orchestrator_store_commit_batch_size", Help: "Writes made durable together by one commit of the embedded store (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		CommitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "orchestrator_store_commit_duration_seconds", Help: "Time of one group commit of the embedded store, from BEGIN to the end of COMMIT (its fsync).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		Limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_ratelimit_decisions_total", Help: "Decisions of the failure limiters by limiter and result (allowed, limited).",
		}, []string{"limiter", "result"}),
		PurgeRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_purge_runs_total", Help: "Background purge runs by kind.",
		}, []string{"kind"}),
		Purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_purged_rows_total", Help: "Rows deleted by the background purges by kind.",
		}, []string{"kind"}),
	}
	for _, r := range []string{"success", "failure", "limited"} {
		m.Logins.WithLabelValues(r)
	}
	for _, a := range []string{"true", "false"} {
		m.Introspections.WithLabelValues(a)
	}
	for _, k := range PurgeKinds {
		m.PurgeRuns.WithLabelValues(k)
		m.Purged.WithLabelValues(k)
	}
	bi := buildinfo.Read()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "orchestrator_build_info", Help: "1, labelled with the version, VCS revision and Go version the binary was built from.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.GoVersion},
	})
	build.Set(1)
	m.reg.MustRegister(m.Logins, m.Requests, m.Duration, m.Panics, m.StorageFull, m.Revocations, m.Introspections, m.AuditWriteFailures,
		m.CommitBatch, m.CommitDuration, m.Limits, m.PurgeRuns, m.Purged, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// PurgeKinds are the kinds of background purge.
var PurgeKinds = []string{"expired_properties", "revoked_tokens", "audit", "evaluation_logs"}

// Commit observes one group commit of n writes that took d; the embedded
// store calls it from its committer.
func (m *Metrics) Commit(n int, d time.Duration) {
	m.CommitBatch.Observe(float64(n))
	m.CommitDuration.Observe(d.Seconds())
}

// Purge observes one purge run of kind that deleted n rows.
func (m *Metrics) Purge(kind string, n int) {
	m.PurgeRuns.WithLabelValues(kind).Inc()
	m.Purged.WithLabelValues(kind).Add(float64(n))
}

// Limit returns the function a limiter named name reports its decisions
// to (ratelimit.Observe).
func (m *Metrics) Limit(name string) func(allowed bool) {
	allowed, limited := m.Limits.WithLabelValues(name, "allowed"), m.Limits.WithLabelValues(name, "limited")
	return func(ok bool) {
		if ok {
			allowed.Inc()
		} else {
			limited.Inc()
		}
	}
}

// CacheStats are a cache's counts since it was created.
type CacheStats struct {
	Hits, Misses, Evictions uint64
}

// Cache registers orchestrator_cache_{hits,misses,evictions}_total for
// the cache named name; fn reads its counts at each scrape, so the cache
// itself keeps no Prometheus state.
func (m *Metrics) Cache(name string, fn func() CacheStats) {
	labels := prometheus.Labels{"cache": name}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orchestrator_cache_hits_total", Help: "Cache lookups that found an entry, by cache.", ConstLabels: labels,
		}, func() float64 { return float64(fn().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orchestrator_cache_misses_total", Help: "Cache lookups that found no entry, by cache.", ConstLabels: labels,
		}, func() float64 { return float64(fn().Misses) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orchestrator_cache_evictions_total", Help: "Entries evicted for size or expiry, by cache.", ConstLabels: labels,
		}, func() float64 { return float64(fn().Evictions) }),
	)
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
