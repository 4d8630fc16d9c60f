package dataverse

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMSALSecret(t *testing.T) {
	t.Parallel()
	var sawHeaders http.Header
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		sawHeaders = r.Header.Clone()
		whoAmIHandler(w, r)
	})
	c := f.client(t, nil)
	for range 3 {
		who, err := c.WhoAmI(context.Background())
		require.NoError(t, err)
		require.Equal(t, "u", who.UserID)
	}
	require.EqualValues(t, 1, f.tokenCalls.Load(), "token is cached")
	require.Equal(t, "4.0", sawHeaders.Get("OData-MaxVersion"))
	require.Equal(t, "4.0", sawHeaders.Get("OData-Version"))
	require.Equal(t, "null", sawHeaders.Get("If-None-Match"))
	require.Equal(t, "application/json", sawHeaders.Get("Accept"))
	require.Equal(t, int64(3), c.Stats().Requests)
}

// TestMSALRenewsTokenNearExpiry: a token is kept for 80 % of its
// lifetime, also when that is shorter than MSAL's 5-minute margin (which
// used to renew it on every request), and renewed after.
func TestMSALRenewsTokenNearExpiry(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, whoAmIHandler)
	f.expiresIn = 200
	c := f.client(t, nil)
	for range 3 {
		_, err := c.WhoAmI(context.Background())
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, f.tokenCalls.Load(), "kept for 160 of its 200 seconds")

	short := newFakeEnv(t, whoAmIHandler)
	short.expiresIn = 1
	c = short.client(t, nil)
	calls := 0
	require.Eventually(t, func() bool {
		calls++
		_, err := c.WhoAmI(context.Background())
		require.NoError(t, err)
		return short.tokenCalls.Load() == 2
	}, 5*time.Second, 50*time.Millisecond, "renewed after 0.8 s")
	require.Greater(t, calls, 2, "used more than once before its renewal")
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, whoAmIHandler)
	cases := []struct {
		name string
		mod  func(*Config)
		kind error
		want string
	}{
		{"wrong secret", func(c *Config) { c.ClientSecret = "wrong-secret-xyz" }, ErrBadSecret, "AADSTS7000215"},
		{"unknown tenant", func(c *Config) { c.Authority = f.srv.URL + "/33333333-3333-3333-3333-333333333333" }, ErrUnknownTenant, "AADSTS90002"},
		{"unknown client", func(c *Config) { c.ClientID = "44444444-4444-4444-4444-444444444444" }, ErrUnknownClient, "AADSTS700016"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			tc.mod(&cfg)
			c, err := New(context.Background(), cfg)
			if err == nil {
				_, err = c.WhoAmI(context.Background())
			}
			require.Error(t, err)
			require.ErrorIs(t, err, tc.kind)
			require.ErrorIs(t, err, ErrAuth)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "wrong-secret-xyz")
			require.NotContains(t, err.Error(), testSecret)
			require.NotContains(t, err.Error(), "\n")
			t.Log(err)
		})
	}
}

func TestAPIErrorKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		status       int
		code, msg    string
		kind         error
		hintContains string
	}{
		{"no app user", 401, "0x80072560", "The user is not a member of the organization.", ErrNoAppUser, "application user"},
		{"no app user 403", 403, "", "The user is not a member of the organization.", ErrNoAppUser, "application user"},
		{"privilege", 403, "0x80040220", "Principal user (Id=x, type=8) is missing prvReadLead privilege (Id=y) on OTC=4 for entity 'lead'.", ErrPrivilege, "organization-level Read on leads"},
		{"tracking off", 400, "0x80060888", "Entity: lead isn't enabled for change tracking.", ErrChangeTrackingDisabled, "Track changes"},
		{"not found", 404, "0x80060888", "Resource not found for the segment 'leeds'.", ErrNotFound, ""},
		{"bad request", 400, "0x0", "Could not find a property named 'foo'.", ErrRequest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, tc.status, tc.code, tc.msg) })
			c := f.client(t, nil)
			r := c.Read(context.Background(), Query{EntitySet: "leads", Select: []string{"leadid"}})
			defer r.Close()
			_, err := r.Next(context.Background())
			require.ErrorIs(t, err, tc.kind)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.status, ae.Status)
			require.Contains(t, err.Error(), "/api/data/v9.2/leads")
			require.NotContains(t, err.Error(), "tok-")
			require.NotContains(t, err.Error(), "$select")
			require.Contains(t, err.Error(), tc.hintContains)
			t.Log(err)
		})
	}
}

func TestExpiredAuthTicketRenewsOnce(t *testing.T) {
	t.Parallel()
	var calls, forced atomic.Int64
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh" {
			writeErr(w, 401, "0x80044153", "ExpiredAuthTicket")
			return
		}
		whoAmIHandler(w, r)
	})
	f.validTok = func(string) bool { return true }
	c := f.client(t, func(cfg *Config) {
		cfg.TokenFunc = func(_ context.Context, force bool) (string, error) {
			calls.Add(1)
			if force {
				forced.Add(1)
				return "fresh", nil
			}
			return "stale", nil
		}
	})
	_, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 1, forced.Load())
}

func TestRetryAfter429(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0.2")
			writeErr(w, 429, "0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
			return
		}
		whoAmIHandler(w, r)
	})
	c := f.client(t, nil)
	var run Counter
	start := time.Now()
	_, err := c.WhoAmI(WithCounter(context.Background(), &run))
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "waits Retry-After each time")
	s := run.Snapshot()
	require.EqualValues(t, 3, s.Requests)
	require.EqualValues(t, 2, s.Throttled)
	require.EqualValues(t, 2, s.Retries)
	require.GreaterOrEqual(t, s.Waited, 400*time.Millisecond)
	require.Equal(t, s, c.Stats())
}

func TestThrottledGivesUpAfterMaxWait(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0.1")
		writeErr(w, 429, "0x80072321", "Combined execution time of incoming requests exceeded limit")
	})
	c := f.client(t, func(cfg *Config) { cfg.MaxWait = 350 * time.Millisecond })
	_, err := c.WhoAmI(context.Background())
	require.ErrorIs(t, err, ErrThrottled)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 4, ae.Attempts)
	require.Equal(t, 300*time.Millisecond, ae.Waited)
	require.Contains(t, err.Error(), "gave up after 4 attempts")
	t.Log(err)
}

func TestBackoffOn503AndResets(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeErr(w, 503, "", "Unable to perform the request as the org is not available now, please retry later")
		case 2:
			writeErr(w, 502, "", "bad gateway")
		case 3: // drop the connection
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		case 4:
			w.WriteHeader(504)
		default:
			whoAmIHandler(w, r)
		}
	})
	c := f.client(t, nil)
	_, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 5, n.Load())
	// net/http itself retries a GET whose reused connection dropped
	// before any answer, so that one may not reach the retry policy
	require.GreaterOrEqual(t, c.Stats().Retries, int64(3))
	require.EqualValues(t, 0, c.Stats().Throttled)
}

func TestUnavailableGivesUp(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	c := f.client(t, func(cfg *Config) { cfg.MaxWait = 200 * time.Millisecond })
	_, err := c.WhoAmI(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
	require.Contains(t, err.Error(), "HTTP 503")
	require.Contains(t, err.Error(), "gave up after")
}

func TestNoRetryOn400(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, 400, "", "bad") })
	c := f.client(t, nil)
	_, err := c.WhoAmI(context.Background())
	require.ErrorIs(t, err, ErrRequest)
	require.EqualValues(t, 1, c.Stats().Requests)
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	var cur, peak atomic.Int64
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		whoAmIHandler(w, r)
	})
	c := f.client(t, func(cfg *Config) { cfg.MaxConcurrency = 3 })
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			_, err := c.WhoAmI(context.Background())
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int64(3))
	require.Greater(t, peak.Load(), int64(1))
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"5":                             5 * time.Second,
		"0":                             0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0,
	}
	for in, want := range cases {
		got, ok := parseRetryAfter(in, now)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := parseRetryAfter("soon", now)
	require.False(t, ok)
}

func TestLinkToOtherHostRefused(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, whoAmIHandler)
	c := f.client(t, nil)
	r := c.Read(context.Background(), Query{EntitySet: "leads", NextLink: "https://evil.example.com/api/data/v9.2/leads?$skiptoken=x"})
	defer r.Close()
	_, err := r.Next(context.Background())
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "another host")
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(429)
	})
	c := f.client(t, func(cfg *Config) { cfg.MaxWait = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.WhoAmI(ctx)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}

func TestThrottlePausesOtherRequests(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	var mu sync.Mutex
	var times []time.Time
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.3")
			writeErr(w, 429, "0x80072326", "Number of concurrent requests exceeded the limit of 52.")
			return
		}
		whoAmIHandler(w, r)
	})
	c := f.client(t, nil)
	_, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	start := time.Now()
	c.pause(300 * time.Millisecond) // as if another request had just been throttled
	_, err = c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "a new request waits out the pause")
}

func TestUntrustedCertificate(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, whoAmIHandler)
	// API: a client that does not trust the test server
	c := f.client(t, func(cfg *Config) {
		cfg.HTTPClient = &http.Client{}
		cfg.TokenFunc = func(context.Context, bool) (string, error) { return "tok-1", nil }
	})
	_, err := c.WhoAmI(context.Background())
	require.ErrorIs(t, err, ErrTLS)
	require.Contains(t, err.Error(), "CA file")
	// authority
	c = f.client(t, func(cfg *Config) { cfg.HTTPClient = &http.Client{} })
	_, err = c.WhoAmI(context.Background())
	require.ErrorIs(t, err, ErrTLS)
	require.ErrorIs(t, err, ErrAuth)
	t.Log(err)
}

func TestMSALForcedRenewalAfter401(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, whoAmIHandler)
	f.validTok = func(tok string) bool { return tok != "tok-1" } // the first token was revoked
	c := f.client(t, nil)
	_, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 2, f.tokenCalls.Load())
	_, err = c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 2, f.tokenCalls.Load(), "the renewed token is kept")
}
