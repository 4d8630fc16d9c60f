package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/ampel/ampel/odata"
)

// Annotations Ampel asks for on data reads: the display name of lookups
// and the label of choices (FormattedValue) and the target table of
// lookups (lookuplogicalname). Asking for "*" would add
// associatednavigationproperty to every lookup and make pages bigger.
var Annotations = []string{odata.AnnotationFormattedValue, odata.AnnotationLookupLogicalName}

// call is one logical request.
type call struct {
	method string
	url    string // absolute
	table  string
	prefer string
	// refused is what a refusal of the URL means when it is a saved link:
	// ErrDeltaTokenExpired for a delta link, ErrLinkRefused for a resumed
	// next link; nil for other URLs
	refused error
	extra   http.Header
	// sizeHint is the expected body size (0: unknown), see readBody
	sizeHint int
	// reserve, if set, is called once the answer's headers are in and
	// before its body is read, with its Content-Length (-1: unknown): a
	// page's share of the memory budget (budget.go)
	reserve func(ctx context.Context, contentLength int64) error
	// buffer, if set, gives the buffer to read the body into, once
	// reserve has taken the budget
	buffer func() []byte
}

// retryState is the Dataverse retry policy for one call: retry 429 after
// Retry-After (seconds or HTTP date), retry 502/503/504 and transport
// errors (resets, EOF, timeouts) with exponential backoff and jitter, and
// stop when the next wait would take the total past MaxWait.
type retryState struct {
	c        *Client
	ctx      context.Context
	attempts int
	waited   time.Duration
	next     time.Duration
	status   int
	err      error
}

func (s *retryState) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	s.attempts++
	var wait time.Duration
	if err != nil {
		s.status, s.err = 0, err
		if unreachable(err) != nil {
			return false, nil // a wrong host or port, not a slow network
		}
		if retry, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err); !retry {
			return false, nil
		}
		wait = s.backoffFor(s.attempts)
	} else {
		s.status, s.err = resp.StatusCode, nil
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		default:
			return false, nil
		}
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait = ra
		} else {
			wait = s.backoffFor(s.attempts)
		}
	}
	if s.waited+wait > s.c.cfg.MaxWait {
		return false, nil
	}
	s.next = wait
	return true, nil
}

func (s *retryState) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	w := s.next
	s.waited += w
	s.c.count(s.ctx, func(c *Counter) { c.waited.Add(int64(w)) })
	s.c.log.Debug("dataverse: retrying", "status", s.status, "attempt", s.attempts+1, "wait", w)
	return w
}

// backoffFor is exponential backoff with equal jitter: half the step is
// fixed, half random, so clients that failed together spread out.
func (s *retryState) backoffFor(attempt int) time.Duration {
	d := s.c.cfg.RetryWaitMin << min(attempt-1, 20)
	if d <= 0 || d > s.c.cfg.RetryWaitMax {
		d = s.c.cfg.RetryWaitMax
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			secs = 0
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// do sends a call and returns a 2xx response whose body the caller must
// close, or an error (*APIError, *AuthError or the context's).
func (c *Client) do(ctx context.Context, cl call) (*http.Response, error) {
	u, err := url.Parse(cl.url)
	if err != nil {
		return nil, fmt.Errorf("dataverse: bad URL for %s: %w", cl.table, err)
	}
	if u.Host != c.host {
		// a next or delta link must stay in the environment: the bearer
		// token goes with it
		return nil, &APIError{Kind: ErrMalformed, Method: cl.method, Path: u.Path, Table: cl.table,
			Message: "link points to another host " + u.Host + " than the environment " + c.host}
	}
	resp, tok, err := c.doOnce(ctx, cl, u, "")
	var ae *APIError
	if err != nil && tok != "" && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && ae.Kind == ErrAuth {
		// ExpiredAuthTicket and friends: a fresh token once (one renewal
		// for every request the same token failed on), and the request
		// again
		c.log.Debug("dataverse: token refused, renewing", "path", u.Path)
		c.count(ctx, func(c *Counter) { c.retries.Add(1) })
		resp, _, err = c.doOnce(ctx, cl, u, tok)
	}
	return resp, err
}

// doOnce sends a call with its retries and returns the answer and the
// token it was sent with. With stale set (a token the server refused), it
// renews the token first.
func (c *Client) doOnce(ctx context.Context, cl call, u *url.URL, stale string) (*http.Response, string, error) {
	if err := c.waitPause(ctx); err != nil {
		return nil, "", err
	}
	var tok string
	var err error
	if stale != "" {
		tok, err = c.tokens.renew(ctx, stale)
	} else {
		tok, err = c.tokens.token(ctx)
	}
	if err != nil {
		return nil, "", err
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, cl.method, cl.url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("dataverse: request for %s: %w", cl.table, err)
	}
	h := req.Header
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Accept", "application/json")
	h.Set(odata.HeaderMaxVersion, odata.Version)
	h.Set(odata.HeaderVersion, odata.Version)
	h.Set("If-None-Match", "null")
	if cl.prefer != "" {
		h.Set(odata.HeaderPrefer, cl.prefer)
	}
	for k, vs := range cl.extra {
		h[k] = vs
	}
	st := &retryState{c: c, ctx: ctx}
	rc := &retryablehttp.Client{
		HTTPClient:   c.http,
		RetryWaitMin: c.cfg.RetryWaitMin,
		RetryWaitMax: c.cfg.RetryWaitMax,
		RetryMax:     1 << 20, // bounded by MaxWait instead
		CheckRetry:   st.check,
		Backoff:      st.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		PrepareRetry: func(r *http.Request) error {
			if err := c.waitPause(r.Context()); err != nil {
				return err
			}
			// a long Retry-After may outlast the token
			t, err := c.tokens.token(r.Context())
			if err != nil {
				return err
			}
			tok = t
			r.Header.Set("Authorization", "Bearer "+tok)
			// counted here, where the request is sure to go out again
			c.count(r.Context(), func(c *Counter) { c.retries.Add(1) })
			return nil
		},
	}
	resp, err := rc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		var ae *AuthError
		if errors.As(err, &ae) {
			return nil, "", err
		}
		kind, cause := ErrUnavailable, stripURL(err)
		switch {
		case isTLSError(err):
			kind = ErrTLS
		case unreachable(err) != nil:
			kind, cause = ErrUnreachable, unreachable(err)
		}
		return nil, tok, &APIError{Kind: kind, Method: cl.method, Path: u.Path, Table: cl.table,
			Attempts: st.attempts, Waited: st.waited, Err: cause}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, tok, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	code, msg := parseErrorBody(resp.Header.Get("Content-Type"), body)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return nil, tok, &APIError{
		Kind: classifyAPI(resp.StatusCode, code, msg, cl.refused), Method: cl.method, Path: u.Path, Table: cl.table,
		Status: resp.StatusCode, Code: code, Message: msg, Attempts: st.attempts, Waited: st.waited,
	}
}

// parseErrorBody reads {"error":{"code":"0x…","message":"…"}}; a plain
// text body that is not that shape is returned as the message, shortened.
// An HTML page (a proxy's or gateway's 502 page) says nothing the status
// line does not: it gives no message, and the error shows the status.
func parseErrorBody(contentType string, body []byte) (code, msg string) {
	if code, msg, ok := odata.ParseErrorBody(body); ok {
		return code, msg
	}
	if strings.Contains(strings.ToLower(contentType), "html") || bytes.HasPrefix(bytes.TrimSpace(body), []byte("<")) {
		return "", ""
	}
	return "", oneLine(string(body), 200)
}

// stripURL removes the URL (query string and all) from a *url.Error, since
// the path is reported separately and the query may hold data.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// getJSON GETs u and decodes the JSON answer into v.
func (c *Client) getJSON(ctx context.Context, u, table string, v any, extra http.Header) error {
	body, path, status, err := c.getBody(ctx, call{method: http.MethodGet, url: u, table: table, extra: extra}, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{Kind: ErrMalformed, Method: http.MethodGet, Path: path, Table: table,
			Status: status, Message: "cannot decode the JSON answer: " + err.Error()}
	}
	return nil
}

// DuplicateRules returns the environment's duplicate detection rules with their
// conditions, as the Web API answers GET
// duplicaterules?$expand=DuplicateRule_DuplicateRuleConditions (the JSON that
// audit.ParseDataverseRules reads). The application user needs read access to
// duplicaterule and duplicaterulecondition.
func (c *Client) DuplicateRules(ctx context.Context) ([]byte, error) {
	body, _, _, err := c.getBody(ctx, call{method: http.MethodGet, url: c.base + "duplicaterules?$expand=DuplicateRule_DuplicateRuleConditions",
		table: "duplicaterule"}, nil)
	return body, err
}

// WhoAmIResult identifies the caller in the environment.
type WhoAmIResult struct {
	UserID, BusinessUnitID, OrganizationID string
}

// WhoAmI calls the WhoAmI function: the cheapest check that the token is
// accepted and the application user exists.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmIResult, error) {
	var r struct {
		UserID         string `json:"UserId"`
		BusinessUnitID string `json:"BusinessUnitId"`
		OrganizationID string `json:"OrganizationId"`
	}
	if err := c.getJSON(ctx, c.base+"WhoAmI", "", &r, nil); err != nil {
		return WhoAmIResult{}, err
	}
	return WhoAmIResult(r), nil
}
