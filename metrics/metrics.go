// Package metrics holds Ampel's Prometheus collectors, in one registry:
// what the feed serves (recorded by package serve), what each sync did
// per environment and table, and how long the KPI and audit runs took
// (recorded by cmd/ampel from the results connector.Runner, kpis and audit
// return, so that those packages import nothing of serving). serve
// exposes the registry at /metrics in Prometheus' text format.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one set of collectors and the registry that holds them. The
// zero value is not usable; call New. A nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	feedRequests *prometheus.CounterVec
	feedRows     *prometheus.CounterVec

	syncRows        *prometheus.CounterVec
	syncDuration    *prometheus.HistogramVec
	syncThrottles   *prometheus.CounterVec
	syncRetries     *prometheus.CounterVec
	syncFailures    *prometheus.CounterVec
	syncLastSuccess *prometheus.GaugeVec

	runSeconds *prometheus.GaugeVec
}

// New makes the collectors and registers them, with Go's runtime and
// process collectors, in a registry of their own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.feedRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ampel_feed_requests_total", Help: "OData feed requests by entity set (\"\" for the service and metadata documents) and HTTP status.",
	}, []string{"set", "code"})
	m.feedRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ampel_feed_rows_total", Help: "Rows the OData feed served, by entity set.",
	}, []string{"set"})
	m.syncRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ampel_sync_rows_total", Help: "Rows synced (upserted and deleted), by environment and table.",
	}, []string{"environment", "table"})
	m.syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ampel_sync_duration_seconds", Help: "Duration of a table's sync, by environment and table.",
		Buckets: prometheus.ExponentialBuckets(0.1, 4, 10),
	}, []string{"environment", "table"})
	m.syncThrottles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ampel_sync_throttles_total", Help: "Requests Dataverse throttled (429), by environment and table.",
	}, []string{"environment", "table"})
	m.syncRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ampel_sync_retries_total", Help: "Requests retried, by environment and table.",
	}, []string{"environment", "table"})
	m.syncFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ampel_sync_failures_total", Help: "Table syncs that failed, by environment and table.",
	}, []string{"environment", "table"})
	m.syncLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ampel_sync_last_success_timestamp_seconds", Help: "When a table's last successful sync finished (Unix time), by environment and table.",
	}, []string{"environment", "table"})
	m.runSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ampel_run_duration_seconds", Help: "Duration of the last KPI, scoring or audit run (job: kpi, score, audit).",
	}, []string{"job"})
	m.reg.MustRegister(m.feedRequests, m.feedRows, m.syncRows, m.syncDuration, m.syncThrottles,
		m.syncRetries, m.syncFailures, m.syncLastSuccess, m.runSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the registry the collectors are in, for tests and for
// collectors of other packages.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// FeedRequest counts one feed request.
func (m *Metrics) FeedRequest(set string, code int) {
	if m == nil {
		return
	}
	m.feedRequests.WithLabelValues(set, itoa(code)).Inc()
}

// FeedRows counts rows served from an entity set.
func (m *Metrics) FeedRows(set string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.feedRows.WithLabelValues(set).Add(float64(n))
}

// TableSync is what one table's sync did, as cmd/ampel reads it from a
// connector.TableResult.
type TableSync struct {
	Environment, Table string
	Rows               uint64
	Duration           time.Duration
	Throttled, Retries uint32
	OK                 bool
	Finished           time.Time
}

// Sync records one table's sync.
func (m *Metrics) Sync(s TableSync) {
	if m == nil {
		return
	}
	l := []string{s.Environment, s.Table}
	m.syncRows.WithLabelValues(l...).Add(float64(s.Rows))
	m.syncDuration.WithLabelValues(l...).Observe(s.Duration.Seconds())
	m.syncThrottles.WithLabelValues(l...).Add(float64(s.Throttled))
	m.syncRetries.WithLabelValues(l...).Add(float64(s.Retries))
	if s.OK {
		m.syncLastSuccess.WithLabelValues(l...).Set(float64(s.Finished.Unix()))
		m.syncFailures.WithLabelValues(l...).Add(0)
	} else {
		m.syncFailures.WithLabelValues(l...).Inc()
	}
}

// Run records how long the last run of job (kpi, score, audit) took.
func (m *Metrics) Run(job string, d time.Duration) {
	if m == nil {
		return
	}
	m.runSeconds.WithLabelValues(job).Set(d.Seconds())
}

func itoa(n int) string {
	if n >= 100 && n < 600 {
		return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
	}
	return "other"
}
