package dataverse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// APIPath is the Web API root under the environment URL. Code written
// against a version keeps working, so Ampel pins v9.2.
const APIPath = "/api/data/v9.2/"

// Config says which environment to talk to and how. Only cmd fills it;
// this package reads no environment variables and no files but the ones
// named here.
type Config struct {
	// URL is the environment URL, e.g. https://contoso.crm4.dynamics.com.
	// A trailing /api/data/v9.x is ignored.
	URL string
	// Authority is the Entra ID authority; default
	// https://login.microsoftonline.com/<TenantID>. Sovereign clouds and the
	// simulator give their own (with or without the tenant segment).
	Authority string
	// TenantID is the directory (tenant) ID.
	TenantID string
	// ClientID is the app registration's application (client) ID.
	ClientID string
	// ClientSecret authenticates the app; or CertificateFile and KeyFile.
	ClientSecret string
	// CertificateFile is a PEM file with the certificate (and, if KeyFile
	// is empty, the unencrypted private key too).
	CertificateFile string
	// KeyFile is a PEM file with the private key, if not in CertificateFile.
	KeyFile string
	// CAFile is a PEM bundle of extra CAs to trust (Dataverse and authority).
	CAFile string
	// MaxConcurrency caps requests in flight to this environment. Default
	// DefaultMaxConcurrency (52, Dataverse's limit per user). Below the
	// cap the client adapts: it starts at 24 requests, doubles per round
	// trip until the first 429, then grows by one per round trip and halves
	// on a 429; the x-ms-ratelimit-burst-remaining-xrm-requests header
	// lowers it when few requests remain in the window (see limiter.go).
	// Clients of the same environment and client ID in one process share
	// the cap, the adaptive limit and the pause after a 429: Dataverse
	// throttles per application user.
	MaxConcurrency int
	// MaxWait bounds the total time one request may spend waiting between
	// retries (Retry-After and backoff) before it fails. Default 5m.
	MaxWait time.Duration
	// RetryWaitMin and RetryWaitMax bound one backoff step when the server
	// gives no Retry-After. Defaults 1s and 60s.
	RetryWaitMin, RetryWaitMax time.Duration
	// Timeout bounds one HTTP attempt, body included. Default 2m (what
	// Microsoft's samples use).
	Timeout time.Duration
	// PageSize is the odata.maxpagesize preference. Default and maximum 5000.
	PageSize int
	// ReadAhead caps the pages the reads of this client fetch ahead of
	// their callers at once (see Reader). Default DefaultReadAhead; below
	// zero, no read fetches ahead.
	ReadAhead int
	// MemoryBudget bounds the bytes the pages of all reads of this client
	// hold at once (bodies and decoded records, see budget.go): a read
	// waits for budget before it reads a page's body. Default
	// DefaultMemoryBudget; below zero, no bound.
	MemoryBudget int64
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient is the base client (transport, TLS) for Dataverse and the
	// authority; nil uses a pooled client that trusts CAFile. Tests pass the
	// simulator's client.
	HTTPClient *http.Client
	// TokenFunc, if set, replaces MSAL: it returns a bearer token for the
	// environment. force asks for a fresh one (the last was refused).
	TokenFunc func(ctx context.Context, force bool) (string, error)
}

// Client talks to one Dataverse environment. It is safe for concurrent use.
type Client struct {
	cfg      Config
	origin   string // scheme://host[:port] of the environment
	base     string // origin + APIPath
	host     string
	http     *http.Client // counting, limited transport
	stats    *Counter
	env      *envLimits // shared by the Clients of one environment and app
	tokens   tokenSource
	log      *slog.Logger
	setsMu   sync.Mutex
	sets     map[string]string // logical name → entity set
	metadata metadataCache
	snapMu   sync.Mutex
	snapshot *Metadata     // the last EntityDefinitions read with a version
	ahead    chan struct{} // a slot per page fetched ahead (Config.ReadAhead)
	budget   *budget       // Config.MemoryBudget; nil: no bound
	free     *freeBodies   // released page bodies for later pages
	// pageSizes is what the largest page of each kind held of the budget
	// (pageKind → int64): the first page of a read is expected to take
	// as much
	pageSizes sync.Map
	// bodySizes is the largest body of each table and column count
	// (pageKind without linksOnly → int), which sizes the buffer of a
	// read's first page: a ranged load's ranges, which start once their
	// walk's first page (links only) is in, size theirs from it
	bodySizes sync.Map
}

// DefaultReadAhead is the default of Config.ReadAhead: pages of all reads
// of a client fetched before their callers ask for them.
const DefaultReadAhead = 4

// New checks cfg, builds the HTTP client and the token source, and
// returns a Client. It makes no request: call WhoAmI to check the setup.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("dataverse: the environment URL is empty")
	}
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("dataverse: environment URL %q: want https://<org>.crm.dynamics.com", cfg.URL)
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 5 * time.Minute
	}
	if cfg.RetryWaitMin <= 0 {
		cfg.RetryWaitMin = time.Second
	}
	if cfg.RetryWaitMax <= 0 {
		cfg.RetryWaitMax = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 5000 {
		cfg.PageSize = 5000
	}
	if cfg.ReadAhead == 0 {
		cfg.ReadAhead = DefaultReadAhead
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = DefaultMemoryBudget
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Client{
		cfg:    cfg,
		origin: u.Scheme + "://" + u.Host,
		host:   u.Host,
		stats:  &Counter{},
		log:    cfg.Logger,
		ahead:  make(chan struct{}, max(cfg.ReadAhead, 0)),
	}
	c.free = &freeBodies{max: DefaultMemoryBudget / 4}
	if cfg.MemoryBudget > 0 {
		c.budget = newBudget(cfg.MemoryBudget)
		c.free.b, c.free.max = c.budget, cfg.MemoryBudget/4
	}
	c.base = c.origin + APIPath
	c.env = limitsFor(fmt.Sprintf("%s %s %d", c.origin, cfg.ClientID, cfg.MaxConcurrency), cfg.MaxConcurrency)
	baseClient, err := baseHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	rt := baseClient.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.http = &http.Client{
		Transport:     &transport{next: rt, c: c},
		Timeout:       cfg.Timeout,
		Jar:           baseClient.Jar,
		CheckRedirect: sameHostRedirects(c.host),
	}
	if cfg.TokenFunc != nil {
		c.tokens = &funcTokens{f: cfg.TokenFunc}
	} else {
		ts, err := newMSALTokens(ctx, cfg, c.origin, baseClient)
		if err != nil {
			return nil, err
		}
		c.tokens = ts
	}
	return c, nil
}

// URL returns the environment's origin, e.g. https://contoso.crm.dynamics.com.
func (c *Client) URL() string { return c.origin }

// Authenticate gets the token the next request goes out with — from the
// client's own cache while it is fresh, else from the authority — and
// returns the error such a request would fail with (an *AuthError for a
// refused sign-in). It sends nothing to the environment. A caller that is
// about to send many requests at once waits for it first, so that a
// refused sign-in costs one token request, not one per request.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.tokens.token(ctx)
	return err
}

// PageSize is the configured odata.maxpagesize.
func (c *Client) PageSize() int { return c.cfg.PageSize }

func baseHTTPClient(cfg Config) (*http.Client, error) {
	if cfg.HTTPClient != nil && cfg.CAFile == "" {
		return cfg.HTTPClient, nil
	}
	var tr *http.Transport
	if cfg.HTTPClient != nil {
		t, ok := cfg.HTTPClient.Transport.(*http.Transport)
		if !ok {
			return nil, errors.New("dataverse: CAFile needs an *http.Transport in HTTPClient")
		}
		tr = t.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
	}
	if tr.HTTP2 == nil {
		// an answer that waits for the memory budget (budget.go) keeps
		// up to its stream's window in the client: 4 MB by default
		tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: streamWindow}
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("dataverse: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if tr.TLSClientConfig != nil && tr.TLSClientConfig.RootCAs != nil {
			pool = tr.TLSClientConfig.RootCAs.Clone()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("dataverse: CA file %s holds no PEM certificate", cfg.CAFile)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr}, nil
}

// streamWindow is the HTTP/2 flow-control window of one answer: what of a
// body the server may send before the client reads it. A page waiting
// for the memory budget holds this much in the client's buffers (Go's
// default, 4 MB, was 24–42 MB of the sync's heap at 100k leads); a read
// still takes up to 1 MB per round trip, which at 100 ms is 10 MB/s per
// page in flight, more than decoding and inserting take on a core.
const streamWindow = 1 << 20

// sameHostRedirects refuses redirects to another host, so the bearer token
// never leaves the environment.
func sameHostRedirects(host string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if req.URL.Host != host {
			return fmt.Errorf("refusing redirect to another host %s", req.URL.Host)
		}
		return nil
	}
}
