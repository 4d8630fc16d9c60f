package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// Health is the body of /healthz.
type Health struct {
	// Status is "ok", or "unavailable" when the warehouse does not answer.
	Status string `json:"status"`
	// Error says why the warehouse did not answer.
	Error string `json:"error,omitempty"`
	// Environments holds the last sync of each environment, from sync_runs.
	Environments []EnvironmentHealth `json:"environments"`
}

// EnvironmentHealth is one environment's last sync.
type EnvironmentHealth struct {
	Name string `json:"name"`
	// LastSync is when the environment's last table sync finished, and
	// LastStatus how it ended (ok, failed, canceled).
	LastSync   time.Time `json:"last_sync"`
	LastStatus string    `json:"last_status"`
	// LastSuccess is when its last successful table sync finished; absent
	// when none did.
	LastSuccess *time.Time `json:"last_success,omitempty"`
}

// healthz answers 200 with the last sync per environment when the
// warehouse answers, 503 when it does not. It needs no key and shows no
// data, only environment names and times.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(warehouse.ReadOnly(r.Context()), 5*time.Second)
	defer cancel()
	h := Health{Status: "ok", Environments: []EnvironmentHealth{}}
	status := http.StatusOK
	if err := s.lastSyncs(ctx, &h); err != nil {
		h.Status, h.Error, status = "unavailable", err.Error(), http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(h)
}

func (s *Server) lastSyncs(ctx context.Context, h *Health) error {
	ping, err := s.store.Query(ctx, "SELECT 1")
	if err != nil {
		return err
	}
	ping.Close()
	rows, err := s.store.Query(ctx, "SELECT environment, max(finished_at), argMax(status, finished_at), "+
		"maxIf(finished_at, status = 'ok'), countIf(status = 'ok') FROM sync_runs GROUP BY environment ORDER BY environment")
	if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
		return nil // not migrated yet: no sync ran
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e EnvironmentHealth
		var ok time.Time
		var oks uint64
		if err := rows.Scan(&e.Name, &e.LastSync, &e.LastStatus, &ok, &oks); err != nil {
			return err
		}
		if oks > 0 {
			e.LastSuccess = &ok
		}
		h.Environments = append(h.Environments, e)
	}
	return rows.Err()
}
