package dataverse

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Error kinds. Every error this package returns for a failed call matches
// at most one of these with errors.Is (ErrBadSecret, ErrUnknownTenant and
// ErrUnknownClient also match ErrAuth), so callers branch on the kind and
// print the error, which says what to fix.
var (
	// ErrAuth: Microsoft Entra ID refused to issue a token, or Dataverse
	// refused the token.
	ErrAuth = errors.New("authentication failed")
	// ErrBadSecret: the client secret or certificate was rejected
	// (AADSTS7000215, AADSTS7000222, AADSTS700027).
	ErrBadSecret = errors.New("client credential rejected")
	// ErrUnknownTenant: the tenant does not exist (AADSTS90002).
	ErrUnknownTenant = errors.New("tenant not found")
	// ErrUnknownClient: no app registration with this client ID in the
	// tenant (AADSTS700016).
	ErrUnknownClient = errors.New("application not found in tenant")
	// ErrWrongResource: Entra ID knows no resource by the environment URL
	// in the tenant (AADSTS500011, AADSTS70011 about the scope): the URL is
	// not the environment's, or the environment is in another tenant.
	ErrWrongResource = errors.New("environment URL is not a resource of the tenant")
	// ErrUnreachable: the host of the environment URL or of the authority
	// cannot be reached at all: its name does not resolve, nothing listens
	// on the port, or it does not speak TLS there. Such a request is not
	// retried: the setting is wrong, not the network slow.
	ErrUnreachable = errors.New("host unreachable")
	// ErrNoAppUser: the token is valid but the environment has no
	// application user for the app (0x80072560, "not a member of the
	// organization").
	ErrNoAppUser = errors.New("no application user in the environment")
	// ErrPrivilege: the application user lacks a privilege, typically
	// organization-level Read on a table (0x80040220).
	ErrPrivilege = errors.New("missing privilege")
	// ErrChangeTrackingDisabled: the table is not enabled for change tracking.
	ErrChangeTrackingDisabled = errors.New("change tracking not enabled")
	// ErrDeltaTokenExpired: a delta link was rejected (expired or invalid);
	// the table needs a full reload.
	ErrDeltaTokenExpired = errors.New("delta token expired or invalid")
	// ErrLinkRefused: a saved @odata.nextLink (Query.NextLink) was rejected
	// on the first page; the interrupted read must start over.
	ErrLinkRefused = errors.New("saved paging link refused")
	// ErrThrottled: service protection limits (429) kept the request from
	// succeeding within Config.MaxWait.
	ErrThrottled = errors.New("throttled")
	// ErrUnavailable: 502/503/504 or dropped connections persisted beyond
	// Config.MaxWait.
	ErrUnavailable = errors.New("service unavailable")
	// ErrNotFound: the table, entity set or record does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrMalformed: the response was not the JSON Dataverse documents.
	ErrMalformed = errors.New("malformed response")
	// ErrTLS: the server's certificate is not trusted (set CAFile).
	ErrTLS = errors.New("TLS certificate not trusted")
	// ErrRequest: any other refused request (4xx/5xx).
	ErrRequest = errors.New("request failed")
)

// APIError is a failed Dataverse Web API call. It never holds the token,
// the secret or the query string (which may carry data), only the path.
type APIError struct {
	// Kind is one of the Err* sentinels; errors.Is(err, Kind) holds.
	Kind error
	// Method and Path of the request, e.g. GET /api/data/v9.2/leads.
	Method, Path string
	// Table is the entity set or logical name involved, if known.
	Table string
	// Status is the HTTP status of the last attempt, 0 if none arrived.
	Status int
	// Code and Message come from the error body ({"error":{"code","message"}}).
	Code, Message string
	// Attempts and Waited describe the retries before giving up.
	Attempts int
	Waited   time.Duration
	// Err is the transport error of the last attempt, if any.
	Err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("dataverse ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	} else {
		b.WriteString("no response")
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + oneLine(e.Message, 300))
	}
	if e.Err != nil {
		b.WriteString(": " + oneLine(e.Err.Error(), 200))
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (gave up after %d attempts, waited %s)", e.Attempts, e.Waited.Round(time.Millisecond))
	}
	if h := e.hint(); h != "" {
		b.WriteString(" — " + h)
	}
	return b.String()
}

// Unwrap returns the kind and the transport error.
func (e *APIError) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func (e *APIError) hint() string {
	table := e.Table
	if table == "" {
		table = "the table"
	}
	switch e.Kind {
	case ErrNoAppUser:
		return "add the app registration as an application user of this environment with a security role (Power Platform admin center → environment → Settings → Users + permissions → Application users)"
	case ErrPrivilege:
		return "give the application user's security role organization-level Read on " + table
	case ErrChangeTrackingDisabled:
		return "turn on Track changes for " + table + " (table properties → Advanced options), or sync it by modifiedon watermark"
	case ErrDeltaTokenExpired:
		return "the delta link is too old or was rejected: reload " + table + " in full"
	case ErrThrottled:
		return "Dataverse service protection limits: lower the concurrency or raise the maximum wait"
	case ErrUnavailable:
		return "the environment did not answer; check its status and retry later"
	case ErrAuth:
		return "the token was refused; check that the environment URL is the one the app user was created in"
	case ErrNotFound:
		return "check the table name and the environment URL"
	case ErrTLS:
		return "the server's certificate is not trusted: set the CA file to the CA that signed it"
	case ErrUnreachable:
		return "check url, the environment URL (e.g. https://contoso.crm4.dynamics.com): " + unreachableWhy(e.Err)
	}
	return ""
}

// AuthError is a token request Microsoft Entra ID refused, or one that
// did not reach it (Kind ErrUnreachable).
type AuthError struct {
	// Kind is ErrBadSecret, ErrUnknownTenant, ErrUnknownClient,
	// ErrWrongResource, ErrUnreachable, ErrTLS or ErrAuth.
	Kind error
	// Code is the AADSTS code, e.g. "AADSTS7000215", if the answer had one.
	Code string
	// Description is Entra ID's description, shortened to one line.
	Description string
	// Authority and ClientID identify what was asked (no secret).
	Authority, ClientID string
	// Err is the network error of a request that got no answer.
	Err error
}

func (e *AuthError) Error() string {
	var hint string
	switch e.Kind {
	case ErrBadSecret:
		hint = "the client secret or certificate is wrong or expired: create a new one for app " + e.ClientID + " and update the config"
	case ErrUnknownTenant:
		hint = "the tenant ID is wrong: use the Directory (tenant) ID of the Entra ID tenant that owns the environment"
	case ErrUnknownClient:
		hint = "the client ID is wrong or the app is not registered in this tenant"
	case ErrTLS:
		hint = "the authority's certificate is not trusted: set the CA file to the CA that signed it"
	case ErrWrongResource:
		hint = "check url: Entra ID knows no Dataverse environment by that URL in this tenant (copy the environment URL from the Power Platform admin center, e.g. https://contoso.crm4.dynamics.com)"
	case ErrUnreachable:
		hint = "check authority: " + unreachableWhy(e.Err) + " (leave authority out for https://login.microsoftonline.com/<tenant_id>)"
	default:
		hint = "check the tenant ID, client ID and credential"
	}
	msg := "token request to " + e.Authority + " failed"
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg + " — " + hint
}

// Unwrap returns the network error, if any.
func (e *AuthError) Unwrap() error { return e.Err }

// unreachable finds in err why a host could not be reached at all, as a
// short error that keeps the cause ("no such host", "connection
// refused"), or nil when err is not such a failure.
func unreachable(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		// without the resolver's address, which says nothing to fix
		return fmt.Errorf("lookup %s: no such host", dns.Name)
	}
	var op *net.OpError
	if errors.As(err, &op) && errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("dial %s %s: connection refused", op.Net, op.Addr)
	}
	var rh tls.RecordHeaderError
	switch {
	case strings.Contains(err.Error(), plainHTTP):
		return errors.New(plainHTTP)
	case errors.As(err, &rh) || strings.Contains(err.Error(), notTLS):
		return errors.New(notTLS)
	}
	return nil
}

// unreachableWhy says in words what an unreachable error means.
func unreachableWhy(err error) string {
	switch {
	case err == nil:
		return "the host cannot be reached"
	case strings.Contains(err.Error(), "no such host"):
		return "the host name does not resolve"
	case strings.Contains(err.Error(), "connection refused"):
		return "nothing listens on that host and port"
	}
	return "the port does not speak HTTPS"
}

// isTLSError reports a certificate verification failure.
func isTLSError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// Is makes an AuthError match its kind and ErrAuth.
func (e *AuthError) Is(target error) bool { return target == e.Kind || target == ErrAuth }

var aadstsRE = regexp.MustCompile(`AADSTS(\d+)[^"\\\n]*`)

// classifyAuth turns an MSAL error into an *AuthError. The MSAL error text
// holds Entra ID's response body, which has the AADSTS code; it never holds
// the secret, but we keep only the code's sentence anyway.
func classifyAuth(err error, authority, clientID string) error {
	if err == nil {
		return nil
	}
	e := &AuthError{Kind: ErrAuth, Authority: authority, ClientID: clientID}
	text := err.Error()
	if m := aadstsRE.FindStringSubmatch(text); m != nil {
		e.Code = "AADSTS" + m[1]
		// Entra ID's sentences run to about 350 characters; they say
		// what is wrong, keep them whole
		e.Description = oneLine(strings.TrimPrefix(m[0], e.Code+": "), 400)
		switch m[1] {
		case "7000215", "7000222", "700027", "700023", "7000112":
			e.Kind = ErrBadSecret
		case "90002", "90023", "900023":
			e.Kind = ErrUnknownTenant
		case "700016":
			e.Kind = ErrUnknownClient
		case "500011", "70011":
			// "The resource principal named <url> was not found in the
			// tenant", "The provided value for the input parameter
			// 'scope' is not valid": the scope is <url>/.default
			e.Kind = ErrWrongResource
		}
		return e
	}
	if cause := unreachableCause(err); cause != nil {
		e.Kind, e.Err, e.Description = ErrUnreachable, cause, cause.Error()
		return e
	}
	lower := strings.ToLower(text)
	switch {
	case isTLSError(err) || strings.Contains(lower, "x509:") || strings.Contains(lower, "certificate signed by unknown authority"):
		e.Kind = ErrTLS
	case strings.Contains(lower, "invalid_client"):
		e.Kind = ErrBadSecret
	case strings.Contains(lower, "tenant") && strings.Contains(lower, "not found"):
		e.Kind = ErrUnknownTenant
	}
	e.Description = oneLine(redactBody(text), 200)
	return e
}

// unreachableCause is unreachable for an MSAL error, whose text may hold
// the Go error rather than wrap it: Get "<url>": <cause>.
func unreachableCause(err error) error {
	if cause := unreachable(err); cause != nil {
		return cause
	}
	text := err.Error()
	switch {
	case strings.Contains(text, "no such host"):
		if m := lookupRE.FindStringSubmatch(text); m != nil {
			return fmt.Errorf("lookup %s: no such host", m[1])
		}
	case strings.Contains(text, "connection refused"):
		if m := dialRE.FindStringSubmatch(text); m != nil {
			return fmt.Errorf("dial %s %s: connection refused", m[1], m[2])
		}
	case strings.Contains(text, plainHTTP):
		return errors.New(plainHTTP)
	case strings.Contains(text, notTLS):
		return errors.New(notTLS)
	}
	return nil
}

// What Go says when the other end of an https:// URL does not speak TLS.
const (
	plainHTTP = "http: server gave HTTP response to HTTPS client"
	notTLS    = "tls: first record does not look like a TLS handshake"
)

var (
	lookupRE = regexp.MustCompile(`lookup ([^\s:]+)`)
	dialRE   = regexp.MustCompile(`dial (tcp[46]?) ([^\s:]+:\d+)`)
)

// redactBody drops anything after "client_secret" or "assertion" in case
// an error echoes the form it sent.
func redactBody(s string) string {
	for _, k := range []string{"client_secret", "client_assertion", "access_token"} {
		if i := strings.Index(s, k); i >= 0 {
			s = s[:i] + k + "=[redacted]"
		}
	}
	return s
}

// classifyAPI picks the kind of a failed Dataverse response. refused is
// the kind a refusal of a saved link means (call.refused), nil for other
// requests.
func classifyAPI(status int, code, message string, refused error) error {
	lower := strings.ToLower(message)
	code = strings.ToLower(code)
	switch {
	case status == 429:
		return ErrThrottled
	case code == "0x80072560" || strings.Contains(lower, "not a member of the organization"):
		return ErrNoAppUser
	case code == "0x80040220" || status == 403 && strings.Contains(lower, "privilege"):
		return ErrPrivilege
	case strings.Contains(lower, "change tracking") && (strings.Contains(lower, "not enabled") || strings.Contains(lower, "isn't enabled") || strings.Contains(lower, "is not enabled")):
		return ErrChangeTrackingDisabled
	case code == "0x80044352" || strings.Contains(lower, "version stamp"):
		// ExpiredVersionStamp: "The version stamp associated with the
		// client has expired. Please perform a full sync."
		return ErrDeltaTokenExpired
	case refused != nil && (status == 410 || status >= 400 && status < 500 && status != 401 && status != 403 && status != 429):
		// The status for an expired token is not documented (Business
		// Central answers 410). Any other refusal of a saved link means
		// the same thing to the caller: start over.
		return refused
	case status == 410 || strings.Contains(lower, "delta token") || strings.Contains(lower, "deltatoken"):
		return ErrDeltaTokenExpired
	case status == 401:
		return ErrAuth
	case status == 403:
		return ErrPrivilege
	case status == 404:
		return ErrNotFound
	case status == 502 || status == 503 || status == 504:
		return ErrUnavailable
	}
	return ErrRequest
}

// oneLine collapses whitespace and cuts s to about n bytes: its start and
// its end, where a Go error chain says the cause ("… connection refused"),
// with "…" between.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	head, tail := s[:n*2/3], s[len(s)-n/3:]
	for len(head) > 0 && !utf8.ValidString(head) {
		head = head[:len(head)-1]
	}
	for len(tail) > 0 && !utf8.ValidString(tail) {
		tail = tail[1:]
	}
	return head + "…" + tail
}
