package dvsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ampel/ampel/odata"
)

// Run-time control over HTTP (see the package doc): /_sim/faults,
// /_sim/throttle, /_sim/expire-deltas, /_sim/expire-tokens,
// /_sim/change-tracking and /_sim/stats, so that a simulator running as a
// process (ampel simulate) can be driven from outside, as the Set*
// methods drive it from a Go test.

// TableNames are the logical names of the simulated tables.
var TableNames = []string{
	"systemuser", "account", "contact", "lead", "opportunity", "quote", "salesorder", "invoice",
	"activitypointer", "incident", "phonecall", "email", "task", "appointment",
}

// Validate reports the first setting of f that is out of range: a rate
// outside 0…1, a negative latency, an unknown table.
func (f Faults) Validate() error {
	if f.ErrorRate < 0 || f.ErrorRate > 1 || f.ErrorRate != f.ErrorRate {
		return fmt.Errorf("error rate %v: a share between 0 and 1, e.g. 0.05", f.ErrorRate)
	}
	if f.DropRate < 0 || f.DropRate > 1 || f.DropRate != f.DropRate {
		return fmt.Errorf("drop rate %v: a share between 0 and 1, e.g. 0.01", f.DropRate)
	}
	if f.Latency < 0 {
		return fmt.Errorf("latency %s: must not be negative", f.Latency)
	}
	if err := knownTables("no change tracking", f.NoChangeTracking); err != nil {
		return err
	}
	return knownTables("no read privilege", f.NoReadPrivilege)
}

// Validate reports the first setting of t that is out of range: negative
// counts or durations, or a window without a request limit.
func (t Throttle) Validate() error {
	switch {
	case t.Requests < 0:
		return fmt.Errorf("requests %d: must not be negative (0: no limit)", t.Requests)
	case t.Concurrent < 0:
		return fmt.Errorf("concurrent %d: must not be negative (0: no limit)", t.Concurrent)
	case t.Window < 0:
		return fmt.Errorf("window %s: must not be negative", t.Window)
	case t.RetryAfter < 0:
		return fmt.Errorf("retry-after %s: must not be negative", t.RetryAfter)
	case t.Window > 0 && t.Requests == 0:
		return fmt.Errorf("window %s: needs a number of requests to limit", t.Window)
	}
	return nil
}

// Validate reports the first option out of range (Scale below 0, Faults,
// Throttle); Start refuses such options.
func (o Options) Validate() error {
	if o.Scale < 0 {
		return fmt.Errorf("scale %d: the number of leads, at least 100 (0: the default 1000)", o.Scale)
	}
	if err := o.Faults.Validate(); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	if err := o.Throttle.Validate(); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}

func knownTables(what string, names []string) error {
	for _, n := range names {
		if !slices.Contains(TableNames, n) {
			return fmt.Errorf("%s: %q is not a simulated table; use %s", what, n, strings.Join(TableNames, ", "))
		}
	}
	return nil
}

// faultsJSON is Faults on the wire: snake_case, durations as "50ms".
type faultsJSON struct {
	ErrorRate        float64  `json:"error_rate"`
	Latency          string   `json:"latency"`
	DropRate         float64  `json:"drop_rate"`
	NoChangeTracking []string `json:"no_change_tracking"`
	NoAppUser        bool     `json:"no_app_user"`
	NoReadPrivilege  []string `json:"no_read_privilege"`
}

// MarshalJSON writes f with snake_case keys and the latency as "50ms".
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{ErrorRate: f.ErrorRate, Latency: f.Latency.String(), DropRate: f.DropRate,
		NoChangeTracking: f.NoChangeTracking, NoAppUser: f.NoAppUser, NoReadPrivilege: f.NoReadPrivilege})
}

// UnmarshalJSON reads what MarshalJSON writes; an unknown key is an error.
// A missing no_change_tracking stays nil (change tracking as it is).
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	if err := strictJSON(b, &w); err != nil {
		return err
	}
	lat, err := optDuration("latency", w.Latency)
	if err != nil {
		return err
	}
	*f = Faults{ErrorRate: w.ErrorRate, Latency: lat, DropRate: w.DropRate,
		NoChangeTracking: w.NoChangeTracking, NoAppUser: w.NoAppUser, NoReadPrivilege: w.NoReadPrivilege}
	return nil
}

// throttleJSON is Throttle on the wire.
type throttleJSON struct {
	Requests   int    `json:"requests"`
	Window     string `json:"window"`
	Concurrent int    `json:"concurrent"`
	RetryAfter string `json:"retry_after"`
}

// MarshalJSON writes t with snake_case keys and durations as "5m0s".
func (t Throttle) MarshalJSON() ([]byte, error) {
	return json.Marshal(throttleJSON{Requests: t.Requests, Window: t.Window.String(), Concurrent: t.Concurrent, RetryAfter: t.RetryAfter.String()})
}

// UnmarshalJSON reads what MarshalJSON writes; an unknown key is an error.
func (t *Throttle) UnmarshalJSON(b []byte) error {
	var w throttleJSON
	if err := strictJSON(b, &w); err != nil {
		return err
	}
	win, err := optDuration("window", w.Window)
	if err != nil {
		return err
	}
	ra, err := optDuration("retry_after", w.RetryAfter)
	if err != nil {
		return err
	}
	*t = Throttle{Requests: w.Requests, Window: win, Concurrent: w.Concurrent, RetryAfter: ra}
	return nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("one JSON object expected")
	}
	return nil
}

func optDuration(key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: not a duration such as 50ms or 5m", key, s)
	}
	return d, nil
}

// Request kinds counted in Stats.ByKind.
var requestKinds = [...]string{"whoami", "metadata", "count", "record", "query", "next_page", "delta"}

// requestKind sorts a Web API request into one of requestKinds (its index).
func requestKind(r *http.Request) int {
	p := strings.TrimPrefix(r.URL.Path, "/api/data/v9.2/")
	q := r.URL.RawQuery
	switch {
	case strings.HasPrefix(p, "WhoAmI"):
		return 0
	case strings.HasPrefix(p, "EntityDefinitions"):
		return 1
	case strings.HasPrefix(p, "RetrieveTotalRecordCount") || strings.HasSuffix(p, "/$count"):
		return 2
	case strings.Contains(p, "("):
		return 3
	case strings.Contains(q, "deltatoken"):
		return 6
	case strings.Contains(q, "skiptoken"):
		return 5
	}
	return 4
}

// statusWriter notes the status of an answer, for Stats.Errors.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets a wrapped writer flush (dropped connections do).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap serves http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ExpireTokens makes every access token issued so far expired: the Web API
// answers 401 "Bearer token expired." to them, as Dataverse does to a token
// past its lifetime, and a client must get a new one.
func (s *Server) ExpireTokens() {
	s.tokenGen.Add(1)
}

// ChangeTracking reports, by logical name, whether each table has change
// tracking on.
func (s *Server) ChangeTracking() map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]bool, len(s.tables))
	for _, t := range s.tables {
		out[t.logical] = t.changeTracking
	}
	return out
}

// Faults returns the faults in force; NoChangeTracking lists the tables
// whose change tracking is off now.
func (s *Server) Faults() Faults {
	s.limMu.Lock()
	f := s.faults
	s.limMu.Unlock()
	f.NoChangeTracking = []string{}
	for name, on := range s.ChangeTracking() {
		if !on {
			f.NoChangeTracking = append(f.NoChangeTracking, name)
		}
	}
	slices.Sort(f.NoChangeTracking)
	if f.NoReadPrivilege == nil {
		f.NoReadPrivilege = []string{}
	}
	return f
}

// Throttle returns the service protection limits in force.
func (s *Server) Throttle() Throttle {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	return s.throttle
}

// controlRoutes adds the run-time control endpoints to mux.
func (s *Server) controlRoutes(mux *http.ServeMux) {
	faults := func(w http.ResponseWriter, r *http.Request) { s.writeControl(w, s.Faults()) }
	setFaults := func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !readControl(w, r, &f, func() error { return f.Validate() }) {
			return
		}
		s.SetFaults(f)
		faults(w, r)
	}
	mux.HandleFunc("GET /_sim/faults", faults)
	mux.HandleFunc("POST /_sim/faults", setFaults)
	mux.HandleFunc("PUT /_sim/faults", setFaults)

	throttle := func(w http.ResponseWriter, r *http.Request) { s.writeControl(w, s.Throttle()) }
	setThrottle := func(w http.ResponseWriter, r *http.Request) {
		var t Throttle
		if !readControl(w, r, &t, func() error { return t.Validate() }) {
			return
		}
		s.SetThrottle(t)
		throttle(w, r)
	}
	mux.HandleFunc("GET /_sim/throttle", throttle)
	mux.HandleFunc("POST /_sim/throttle", setThrottle)
	mux.HandleFunc("PUT /_sim/throttle", setThrottle)

	tracking := func(w http.ResponseWriter, r *http.Request) { s.writeControl(w, s.ChangeTracking()) }
	setTracking := func(w http.ResponseWriter, r *http.Request) {
		var set map[string]bool
		if !readControl(w, r, &set, func() error { return knownTables("change tracking", mapKeys(set)) }) {
			return
		}
		for name, on := range set {
			_ = s.SetChangeTracking(name, on) // known: checked above
		}
		tracking(w, r)
	}
	mux.HandleFunc("GET /_sim/change-tracking", tracking)
	mux.HandleFunc("POST /_sim/change-tracking", setTracking)
	mux.HandleFunc("PUT /_sim/change-tracking", setTracking)

	mux.HandleFunc("POST /_sim/expire-deltas", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireDeltaTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/expire-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) { s.writeControl(w, s.Stats()) })
}

func mapKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *Server) writeControl(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		odata.WriteError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// readControl decodes the JSON body into v and checks it; it answers 400
// with the reason and returns false when either fails.
func readControl(w http.ResponseWriter, r *http.Request, v any, check func() error) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = strictJSON(body, v)
	}
	if err == nil {
		err = check()
	}
	if err != nil {
		odata.WriteError(w, http.StatusBadRequest, codeInvalidArgument, "dvsim: "+err.Error())
		return false
	}
	return true
}
