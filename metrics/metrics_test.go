package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRecordAndExpose(t *testing.T) {
	t.Parallel()
	m := New()
	done := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m.Sync(TableSync{Environment: "prod", Table: "lead", Rows: 120, Duration: 3 * time.Second, Throttled: 2, Retries: 3, OK: true, Finished: done})
	m.Sync(TableSync{Environment: "prod", Table: "lead", Rows: 5, Duration: time.Second, OK: false, Finished: done.Add(time.Hour)})
	m.Run("kpi", 1500*time.Millisecond)
	m.FeedRequest("leads", 200)
	m.FeedRequest("leads", 200)
	m.FeedRequest("", 401)
	m.FeedRows("leads", 42)
	var nilM *Metrics
	nilM.Sync(TableSync{}) // a nil *Metrics records nothing
	nilM.FeedRows("x", 1)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`ampel_sync_rows_total{environment="prod",table="lead"} 125`,
		`ampel_sync_throttles_total{environment="prod",table="lead"} 2`,
		`ampel_sync_retries_total{environment="prod",table="lead"} 3`,
		`ampel_sync_failures_total{environment="prod",table="lead"} 1`,
		`ampel_sync_last_success_timestamp_seconds{environment="prod",table="lead"} 1.767323045e+09`,
		`ampel_sync_duration_seconds_count{environment="prod",table="lead"} 2`,
		`ampel_sync_duration_seconds_sum{environment="prod",table="lead"} 4`,
		`ampel_run_duration_seconds{job="kpi"} 1.5`,
		`ampel_feed_requests_total{code="200",set="leads"} 2`,
		`ampel_feed_requests_total{code="401",set=""} 1`,
		`ampel_feed_rows_total{set="leads"} 42`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
}
