package dvsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ampel/ampel/odata"
)

// Options configure a simulator.
type Options struct {
	Addr                             string // default "127.0.0.1:0"
	Seed                             int64
	Scale                            int // number of leads, default 1000
	ClientID, ClientSecret, TenantID string
	TokenLifetime                    time.Duration // default 1h
	GoLive                           time.Time     // default derived from the seed
	// Now anchors the generated data (default: today 00:00 UTC). Same seed and Now give the
	// same data.
	Now      time.Time
	Throttle Throttle
	Faults   Faults
	Logger   *slog.Logger
	// ChangeRetention is how long delta tokens stay valid, measured from the timestamp in
	// the token to Clock (Dataverse's Organization.ExpireChangeTrackingInDays). Default 7
	// days.
	ChangeRetention time.Duration
	// Clock is the simulator's clock: the timestamps of delta tokens and of Mutate's
	// changes, and the age of delta tokens. Default time.Now.
	Clock func() time.Time
}

// Throttle mirrors Dataverse's service protection limits per user. Zero fields are off.
type Throttle struct {
	Requests   int           // requests per Window
	Window     time.Duration // default 300s when Requests is set
	Concurrent int           // concurrent requests
	RetryAfter time.Duration // fixed Retry-After; default: until the window frees a slot (1s for concurrency)
}

// Faults inject failures into Web API requests (not into the authority or /_sim).
type Faults struct {
	ErrorRate float64       // share of API requests answered 502 or 503
	Latency   time.Duration // added per response
	DropRate  float64       // share of connections closed mid-response
	// NoChangeTracking lists logical names with ChangeTrackingEnabled=false. At Start it
	// applies as given. In SetFaults a nil list leaves change tracking as it is; a non-nil
	// list (empty included) sets it exactly: the tables listed off, all others on. See
	// SetChangeTracking for one table at a time.
	NoChangeTracking []string
	// NoAppUser: tokens are issued, but the environment has no application user for the
	// client, so every Web API call answers 403 with 0x80072560 ("The user is not a member
	// of the organization."), as Dataverse does.
	NoAppUser bool
	// NoReadPrivilege lists logical names the application user's role cannot read: reads of
	// their entity sets (collection, record, $count) answer 403 with 0x80040220
	// ("Principal user ... is missing prvRead<Name> privilege ..."). Their metadata stays
	// readable, as with a role that lacks Read on a table.
	NoReadPrivilege []string
}

// Stats counts what the simulator served (GET /_sim/stats answers it as
// JSON with these snake_case keys).
type Stats struct {
	Requests  int64 `json:"requests"`  // Web API requests
	Throttled int64 `json:"throttled"` // answered 429
	// Errors counts Web API answers with an error status other than 429
	// (4xx and 5xx, the injected 502/503 included).
	Errors       int64 `json:"errors"`
	Faults       int64 `json:"faults"` // 502/503 and dropped connections injected
	TokensIssued int64 `json:"tokens_issued"`
	Pages        int64 `json:"pages"` // collection pages served
	// PeakInFlight is the most Web API requests the server was answering
	// at once (those refused with 429 included).
	PeakInFlight int64 `json:"peak_in_flight"`
	// ByKind counts Web API requests by kind: whoami, metadata
	// (EntityDefinitions), count ($count, RetrieveTotalRecordCount), record
	// (one row by id), query (a collection's first page), next_page (by
	// @odata.nextLink) and delta (by @odata.deltaLink, and its pages).
	ByKind map[string]int64 `json:"by_kind"`
}

type stats struct {
	requests, throttled, errors, faults, tokens, pages atomic.Int64
	inFlight, peakInFlight                             atomic.Int64
	byKind                                             [len(requestKinds)]atomic.Int64
}

type userLimit struct {
	times    []time.Time
	inflight int
}

// Server is a running simulator.
type Server struct {
	opts                                   Options
	log                                    *slog.Logger
	srv                                    *http.Server
	ln                                     net.Listener
	caPEM                                  []byte
	pool                                   *x509.CertPool
	key                                    *rsa.PrivateKey
	kid                                    string
	envURL, apiURL, authority              string
	tenantID, clientID, clientSecret       string
	appUserOID, appUserID, orgID           string
	businessUnitID, currencyID             string
	handler                                http.Handler
	mu                                     sync.RWMutex
	tables                                 []*table
	bySet, byLogical                       map[string]*table
	users, accounts, contacts, leads, opps *table
	quotes, orders, invoices, acts, cases  *table
	version                                int64
	expiredBelow                           int64
	metadataVersion                        int64 // the global metadata version: grows with every schema change
	now, goLive                            time.Time
	truth                                  *planted
	mutations                              int64
	certs                                  map[string][]*x509.Certificate
	limMu                                  sync.Mutex
	throttle                               Throttle
	faults                                 Faults
	limits                                 map[string]*userLimit
	rng                                    *mrand.Rand
	stats                                  stats
	testHold                               chan struct{} // tests: API requests wait on it
	appRow                                 int32
	createSeq                              int64 // records created by Mutate (unique names, phones)
	orderCache                             orderCache
	tokenGen                               atomic.Int64 // tokens of an older generation are expired (ExpireTokens)
	snapshots                              []*Snapshot  // by id-1
	restores                               int          // restores so far; paging cookies carry it
	restoredAt                             time.Time    // the last restore; delta tokens up to it are refused
	keepLinks                              bool         // the last restore keeps answering older delta tokens
}

func idFromSeed(seed int64, salt uint64) string {
	return guidFromHash(splitmix(uint64(seed)*0x9E37 + salt))
}

// Start generates the data and starts serving HTTPS. Options out of range
// are refused (Options.Validate).
func Start(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("dvsim: %w", err)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Scale <= 0 {
		opts.Scale = 1000
	}
	if opts.Scale < 100 {
		opts.Scale = 100
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.TenantID == "" {
		opts.TenantID = idFromSeed(opts.Seed, 1)
	}
	if opts.ClientID == "" {
		opts.ClientID = idFromSeed(opts.Seed, 2)
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sim~" + strings.ReplaceAll(idFromSeed(opts.Seed, 3), "-", "")
	}
	if opts.ChangeRetention <= 0 {
		opts.ChangeRetention = 7 * 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC().Truncate(24 * time.Hour)
	}
	s := &Server{opts: opts, log: opts.Logger, tenantID: opts.TenantID, clientID: opts.ClientID, clientSecret: opts.ClientSecret,
		bySet: map[string]*table{}, byLogical: map[string]*table{}, certs: map[string][]*x509.Certificate{},
		limits: map[string]*userLimit{}, throttle: opts.Throttle, faults: opts.Faults,
		rng:   mrand.New(mrand.NewPCG(uint64(opts.Seed), 77)),
		orgID: idFromSeed(opts.Seed, 4), businessUnitID: idFromSeed(opts.Seed, 5), currencyID: idFromSeed(opts.Seed, 6),
		appUserOID: idFromSeed(opts.Seed, 7), metadataVersion: 1}
	s.now = opts.Now.UTC()
	s.goLive = opts.GoLive
	if s.goLive.IsZero() {
		s.goLive = s.now.AddDate(0, 0, -(100 + int(uint64(opts.Seed)%60))).Truncate(24 * time.Hour)
	}
	var err error
	if s.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	s.kid = strings.ReplaceAll(idFromSeed(opts.Seed, 8), "-", "")[:27]
	var cert tls.Certificate
	if s.caPEM, cert, s.pool, err = newTLS(); err != nil {
		return nil, fmt.Errorf("dvsim: tls: %w", err)
	}
	s.ln, err = net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("dvsim: listen: %w", err)
	}
	s.envURL = "https://" + s.ln.Addr().String()
	s.apiURL = s.envURL + "/api/data/v9.2/"
	s.authority = s.envURL + "/" + s.tenantID

	s.defineSchema()
	for _, name := range opts.Faults.NoChangeTracking {
		if t := s.byLogical[name]; t != nil {
			t.changeTracking = false
		}
	}
	s.generate()
	s.handler = s.routes()
	s.srv = &http.Server{Handler: s.handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	go func() { _ = s.srv.ServeTLS(s.ln, "", "") }()
	s.log.Info("dvsim started", "url", s.envURL, "leads", opts.Scale, "seed", opts.Seed)
	return s, nil
}

// URL is the environment URL (the API is at URL()+"/api/data/v9.2/").
func (s *Server) URL() string { return s.envURL }

// Authority is the MSAL authority (https://host:port/<tenant>). MSAL Go needs
// confidential.WithInstanceDiscovery(false) for it: with discovery on, MSAL asks
// login.microsoftonline.com to validate any host it does not know.
func (s *Server) Authority() string { return s.authority }

// TenantID returns the tenant id.
func (s *Server) TenantID() string { return s.tenantID }

// ClientID returns the application (client) id.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret returns the client secret.
func (s *Server) ClientSecret() string { return s.clientSecret }

// CACertPEM returns the CA certificate that signed the server certificate.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Client returns an HTTP client that trusts the simulator's CA.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// Handler returns the simulator's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// SetFaults switches fault injection at run time. Change tracking changes only when
// f.NoChangeTracking is non-nil: then exactly the listed tables are off and all others on
// (Faults{NoChangeTracking: []string{}} turns it back on everywhere). SetFaults(Faults{
// ErrorRate: 0.1}) leaves tables that were started without change tracking without it.
func (s *Server) SetFaults(f Faults) {
	s.limMu.Lock()
	s.faults = f
	s.limMu.Unlock()
	if f.NoChangeTracking == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tables {
		s.setTracking(t, !slices.Contains(f.NoChangeTracking, t.logical))
	}
}

// SetChangeTracking turns change tracking of one table (by logical name) on or off. As on
// Dataverse, turning it on again starts tracking anew: delta tokens issued before are
// answered as expired for that table.
func (s *Server) SetChangeTracking(logical string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byLogical[logical]
	if t == nil {
		return fmt.Errorf("%w: %s", errUnknownTable, logical)
	}
	s.setTracking(t, enabled)
	return nil
}

func (s *Server) setTracking(t *table, on bool) {
	if on && !t.changeTracking {
		s.version++
		t.trackedSince = s.version
	}
	if on != t.changeTracking {
		s.metadataVersion++
	}
	t.changeTracking = on
}

func (s *Server) clock() time.Time { return s.opts.Clock() }

// deltaExpired reports whether a delta token (its version and timestamp) can no longer be
// answered for t: older than ExpireDeltaTokens, than the table's change tracking, than
// ChangeRetention by the clock, or than the last Restore, or from the future.
func (s *Server) deltaExpired(t *table, v int64, at time.Time) bool {
	refused, kept := s.refusedAfterRestore(at)
	return refused || v < s.expiredBelow || v < t.trackedSince || v > s.version && !kept || s.clock().Sub(at) > s.opts.ChangeRetention
}

// SetThrottle switches service protection limits at run time.
func (s *Server) SetThrottle(t Throttle) {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	s.throttle = t
	s.limits = map[string]*userLimit{}
}

// Stats returns counters.
func (s *Server) Stats() Stats {
	st := Stats{Requests: s.stats.requests.Load(), Throttled: s.stats.throttled.Load(), Errors: s.stats.errors.Load(),
		Faults: s.stats.faults.Load(), TokensIssued: s.stats.tokens.Load(), Pages: s.stats.pages.Load(),
		PeakInFlight: s.stats.peakInFlight.Load(),
		ByKind:       make(map[string]int64, len(requestKinds))}
	for i, k := range requestKinds {
		st.ByKind[k] = s.stats.byKind[i].Load()
	}
	return st
}

// truthZone is the zone of GET /_sim/truth?tz=: UTC without one, else the
// IANA zone it names ("Local" is the machine's, not a zone: refused).
func truthZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("dvsim: tz=%q is not an IANA time zone (e.g. Europe/Berlin)", name)
	}
	return loc, nil
}

// ExpireDeltaTokens makes every delta token issued so far expired (whatever its age; tokens
// also expire after Options.ChangeRetention).
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.expiredBelow = s.version
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/data/v9.2/", s.api)
	s.controlRoutes(mux)
	mux.HandleFunc("GET /_sim/truth", func(w http.ResponseWriter, r *http.Request) {
		loc, err := truthZone(r.URL.Query().Get("tz"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := json.Marshal(s.TruthIn(loc))
		writeJSON(w, 200, b)
	})
	mux.HandleFunc("POST /_sim/mutate", func(w http.ResponseWriter, r *http.Request) {
		n := func(k string) int { v, _ := strconv.Atoi(r.URL.Query().Get(k)); return max(v, 0) }
		b, _ := json.Marshal(s.Mutate(n("creates"), n("updates"), n("deletes")))
		writeJSON(w, 200, b)
	})
	mux.HandleFunc("POST /_sim/columns", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := s.AddColumn(q.Get("table"), q.Get("name"), q.Get("type")); err != nil {
			odata.WriteError(w, http.StatusBadRequest, "0x80040203", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.restoreRoutes(mux)
	mux.HandleFunc("GET /_sim/records/{name}", func(w http.ResponseWriter, r *http.Request) {
		recs := s.Records(r.PathValue("name"))
		if recs == nil {
			http.NotFound(w, r)
			return
		}
		b, _ := json.Marshal(recs)
		writeJSON(w, 200, b)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case p == "common/discovery/instance":
			s.instanceDiscovery(w)
		case p == s.tenantID+"/v2.0/.well-known/openid-configuration":
			s.openIDConfig(w)
		case p == s.tenantID+"/discovery/v2.0/keys":
			s.jwks(w)
		case p == s.tenantID+"/oauth2/v2.0/token":
			s.token(w, r)
		case isTenantPath(p):
			// another tenant: Entra ID answers its discovery and token endpoints alike
			tenant, _, _ := strings.Cut(p, "/")
			tokenError(w, http.StatusBadRequest, "invalid_tenant", "AADSTS90002: Tenant '"+tenant+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")
		default:
			http.NotFound(w, r)
		}
	})
	return mux
}

// api is the Web API entry: auth, limits, faults, then routing.
func (s *Server) api(rw http.ResponseWriter, r *http.Request) {
	s.stats.requests.Add(1)
	s.stats.byKind[requestKind(r)].Add(1)
	n := s.stats.inFlight.Add(1)
	defer s.stats.inFlight.Add(-1)
	for p := s.stats.peakInFlight.Load(); n > p && !s.stats.peakInFlight.CompareAndSwap(p, n); p = s.stats.peakInFlight.Load() {
	}
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		if w.status >= 400 && w.status != http.StatusTooManyRequests {
			s.stats.errors.Add(1)
		}
	}()
	oid, msg := s.checkToken(r)
	if msg != "" {
		s.unauthorized(w, msg)
		return
	}
	s.limMu.Lock()
	noAppUser := s.faults.NoAppUser
	s.limMu.Unlock()
	if noAppUser {
		odata.WriteError(w, http.StatusForbidden, "0x80072560", "The user is not a member of the organization.")
		return
	}
	release, ok := s.admit(w, oid)
	if !ok {
		return
	}
	defer release()
	if s.testHold != nil {
		defer func() { <-s.testHold }()
	}
	s.limMu.Lock()
	f := s.faults
	roll, roll2 := s.rng.Float64(), s.rng.Float64()
	s.limMu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if roll < f.ErrorRate {
		s.stats.faults.Add(1)
		if roll2 < 0.5 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
			return
		}
		w.Header().Set("Retry-After", "1")
		odata.WriteError(w, http.StatusServiceUnavailable, "", "Unable to perform the request as the org is not available now, please retry later")
		return
	}
	if roll2 < f.DropRate {
		s.stats.faults.Add(1)
		dw := &dropWriter{ResponseWriter: w}
		s.apiRoute(dw, r)
		panic(http.ErrAbortHandler)
	}
	s.apiRoute(w, r)
}

// dropWriter forwards half of the body, then the handler aborts the connection.
type dropWriter struct {
	http.ResponseWriter
	done bool
}

func (d *dropWriter) WriteHeader(code int) {
	d.Header().Del("Content-Length")
	d.ResponseWriter.WriteHeader(code)
}

func (d *dropWriter) Write(b []byte) (int, error) {
	if d.done {
		return len(b), nil
	}
	d.done = true
	n, err := d.ResponseWriter.Write(b[:len(b)/2])
	if f, ok := d.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	_ = n
	return len(b), err
}

// admit applies the service protection limits; it answers 429 itself when refused.
func (s *Server) admit(w http.ResponseWriter, user string) (func(), bool) {
	s.limMu.Lock()
	th := s.throttle
	if th.Requests <= 0 && th.Concurrent <= 0 {
		s.limMu.Unlock()
		return func() {}, true
	}
	ul := s.limits[user]
	if ul == nil {
		ul = &userLimit{}
		s.limits[user] = ul
	}
	now := time.Now()
	window := th.Window
	if window <= 0 {
		window = 300 * time.Second
	}
	if th.Concurrent > 0 && ul.inflight >= th.Concurrent {
		s.limMu.Unlock()
		ra := th.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		s.refuse(w, ra, "0x80072326", fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", th.Concurrent))
		return nil, false
	}
	if th.Requests > 0 {
		cut := now.Add(-window)
		i := 0
		for i < len(ul.times) && !ul.times[i].After(cut) {
			i++
		}
		ul.times = ul.times[i:]
		if len(ul.times) >= th.Requests {
			ra := th.RetryAfter
			if ra <= 0 {
				ra = ul.times[0].Add(window).Sub(now)
			}
			s.limMu.Unlock()
			s.refuse(w, ra, "0x80072322", fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", th.Requests, int(window.Seconds())))
			return nil, false
		}
		ul.times = append(ul.times, now)
		// the debug headers Dataverse sends (api-limits.md); the simulator
		// counts no execution time, so that one stays at the full budget
		w.Header().Set("x-ms-ratelimit-burst-remaining-xrm-requests", strconv.Itoa(th.Requests-len(ul.times)))
		w.Header().Set("x-ms-ratelimit-time-remaining-xrm-requests", "1,200,000.00")
	}
	ul.inflight++
	s.limMu.Unlock()
	return func() {
		s.limMu.Lock()
		ul.inflight--
		s.limMu.Unlock()
	}, true
}

func (s *Server) refuse(w http.ResponseWriter, retryAfter time.Duration, code, msg string) {
	s.stats.throttled.Add(1)
	secs := int(math.Ceil(retryAfter.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	odata.WriteError(w, http.StatusTooManyRequests, code, msg)
}

func (s *Server) apiRoute(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		odata.WriteError(w, http.StatusMethodNotAllowed, "0x80060888", "The simulator is read-only: "+r.Method+" is not supported.")
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/api/data/v9.2/")
	switch {
	case p == "WhoAmI" || p == "WhoAmI()":
		body, _ := json.Marshal(map[string]any{odata.KeyContext: s.apiURL + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
			"BusinessUnitId": s.businessUnitID, "UserId": s.appUserID, "OrganizationId": s.orgID})
		writeJSON(w, 200, body)
		return
	case strings.HasPrefix(p, "RetrieveTotalRecordCount("):
		s.serveRecordCount(w, strings.TrimPrefix(p, "RetrieveTotalRecordCount"))
		return
	case strings.HasPrefix(p, "EntityDefinitions"):
		s.serveMetadata(w, r, strings.TrimPrefix(p, "EntityDefinitions"))
		return
	case p == "duplicaterules":
		s.serveDuplicateRules(w, r)
		return
	}
	set, rest, _ := strings.Cut(p, "/")
	var id string
	if i := strings.IndexByte(set, '('); i > 0 && strings.HasSuffix(set, ")") {
		set, id = set[:i], set[i+1:len(set)-1]
	}
	t := s.bySet[set]
	if t == nil {
		odata.WriteError(w, 404, "0x80060888", "Resource not found for the segment '"+set+"'.")
		return
	}
	if s.readDenied(t) {
		// VERIFY: the privilege ids and the context text of Dataverse's message.
		odata.WriteError(w, http.StatusForbidden, "0x80040220", fmt.Sprintf("Principal user (Id=%s, type=8, roleCount=1, privilegeCount=0, accessMode=4), is missing prvRead%s privilege (Id=%s) on OTC=%d for entity '%s'. context: Method=RetrieveMultiple",
			s.appUserID, strings.ToUpper(t.logical[:1])+t.logical[1:], idFromSeed(s.opts.Seed, 100+uint64(t.idx)), 1+t.idx, t.logical))
		return
	}
	switch {
	case id != "" && rest == "":
		s.serveRecord(w, r, t, id)
	case id == "" && rest == odata.OptionCount:
		s.mu.RLock()
		n := t.liveCount()
		s.mu.RUnlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, strconv.Itoa(min(n, maxPage)))
	case id == "" && rest == "":
		s.serveCollection(w, r, t)
	default:
		odata.WriteError(w, 404, "0x80060888", "Resource not found for the segment '"+rest+"'.")
	}
}

var errUnknownTable = errors.New("dvsim: unknown table")

// serveRecordCount answers RetrieveTotalRecordCount(EntityNames=['a','b'])
// with the live row counts (Dataverse's are a snapshot refreshed about
// daily; the simulator's are current).
func (s *Server) serveRecordCount(w http.ResponseWriter, args string) {
	inner := strings.TrimSuffix(strings.TrimPrefix(args, "("), ")")
	list, ok := strings.CutPrefix(inner, "EntityNames=")
	if !ok || !strings.HasPrefix(list, "[") || !strings.HasSuffix(list, "]") {
		odata.WriteError(w, 400, "0x80060888", "RetrieveTotalRecordCount expects EntityNames=['name',...].")
		return
	}
	keys, values := []string{}, []int{}
	s.mu.RLock()
	for _, n := range strings.Split(strings.Trim(list, "[]"), ",") {
		n = strings.Trim(strings.TrimSpace(n), "'")
		t := s.byLogical[n]
		if t == nil {
			s.mu.RUnlock()
			odata.WriteError(w, 404, "0x80040217", "The entity with a name = '"+n+"' was not found in the MetadataCache.")
			return
		}
		keys, values = append(keys, n), append(values, t.liveCount())
	}
	s.mu.RUnlock()
	body, _ := json.Marshal(map[string]any{
		odata.KeyContext:              s.apiURL + "$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse",
		"EntityRecordCountCollection": map[string]any{"Count": len(keys), "IsReadOnly": false, "Keys": keys, "Values": values},
	})
	writeJSON(w, 200, body)
}

// readDenied reports whether Faults.NoReadPrivilege lists t.
func (s *Server) readDenied(t *table) bool {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	return slices.Contains(s.faults.NoReadPrivilege, t.logical)
}

// isTenantPath reports whether p is an authority endpoint under some tenant segment:
// <tenant>/v2.0/.well-known/openid-configuration, <tenant>/oauth2/v2.0/token and the like.
func isTenantPath(p string) bool {
	tenant, rest, ok := strings.Cut(p, "/")
	if !ok || tenant == "" || tenant == "api" || tenant == "_sim" || tenant == "common" {
		return false
	}
	return strings.HasPrefix(rest, "v2.0/.well-known/") || strings.HasPrefix(rest, ".well-known/") ||
		strings.HasPrefix(rest, "oauth2/") || strings.HasPrefix(rest, "discovery/")
}
