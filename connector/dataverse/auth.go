package dataverse

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// renewShare: a token is renewed once this share of its lifetime has
// passed, so a request (or a long page read) never starts with a token
// about to expire, whatever the lifetime: a fixed margin (MSAL's is 5
// minutes) exceeds short lifetimes and would renew on every request.
const renewShare = 0.8

// tokenSource gives bearer tokens. token returns the current one,
// renewed ahead of expiry; renew is called after the server refused
// stale: it renews unless another caller already did since stale was
// handed out, so a 401 on many requests at once costs one renewal.
type tokenSource interface {
	token(ctx context.Context) (string, error)
	renew(ctx context.Context, stale string) (string, error)
}

// funcTokens adapts Config.TokenFunc: it keeps the last token so that
// concurrent refusals of the same token ask for one fresh token.
type funcTokens struct {
	mu  sync.Mutex
	f   func(ctx context.Context, force bool) (string, error)
	tok string
}

func (f *funcTokens) token(ctx context.Context) (string, error) {
	tok, err := f.f(ctx, false)
	if err == nil {
		f.mu.Lock()
		f.tok = tok
		f.mu.Unlock()
	}
	return tok, err
}

func (f *funcTokens) renew(ctx context.Context, stale string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tok != "" && f.tok != stale {
		return f.tok, nil
	}
	tok, err := f.f(ctx, true)
	if err == nil {
		f.tok = tok
	}
	return tok, err
}

// msalTokens gets app tokens with the MSAL confidential client. It keeps
// the current token until renewShare of its lifetime has passed, then asks
// MSAL (which answers from its cache while the token has more than its own
// 5-minute margin left, and from the authority otherwise). A refused token
// is renewed with a fresh MSAL client, whose cache is empty.
type msalTokens struct {
	mu        sync.Mutex
	newApp    func() (confidential.Client, error)
	app       confidential.Client
	scopes    []string
	authority string
	clientID  string
	tok       string
	renewAt   time.Time // renewShare of the token's lifetime, from when it came
}

var knownAuthorityHosts = map[string]bool{
	"login.microsoftonline.com": true, "login.microsoftonline.us": true, "login.chinacloudapi.cn": true,
	"login.microsoftonline.de": true, "login.windows.net": true, "login.microsoft.com": true, "sts.windows.net": true,
}

func newMSALTokens(_ context.Context, cfg Config, origin string, hc *http.Client) (*msalTokens, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("dataverse: client ID is empty: set the app registration's Application (client) ID")
	}
	authority := strings.TrimRight(cfg.Authority, "/")
	if authority == "" {
		if cfg.TenantID == "" {
			return nil, errors.New("dataverse: tenant ID is empty: set the Directory (tenant) ID or an authority URL")
		}
		authority = "https://login.microsoftonline.com/" + cfg.TenantID
	} else if cfg.TenantID != "" {
		// An authority without a tenant segment gets the tenant appended.
		if u, err := url.Parse(authority); err == nil && strings.Trim(u.Path, "/") == "" {
			authority += "/" + cfg.TenantID
		}
	}
	au, err := url.Parse(authority)
	if err != nil || au.Host == "" || au.Scheme != "https" {
		return nil, fmt.Errorf("dataverse: authority %q: want https://<host>/<tenant>", authority)
	}
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	opts := []confidential.Option{confidential.WithHTTPClient(hc)}
	if !knownAuthorityHosts[strings.ToLower(au.Hostname())] {
		// Private clouds and the simulator are not in Microsoft's instance
		// discovery list; MSAL must not try to validate them there.
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	t := &msalTokens{
		scopes:    []string{origin + "/.default"},
		authority: authority,
		clientID:  cfg.ClientID,
		newApp: func() (confidential.Client, error) {
			return confidential.New(authority, cfg.ClientID, cred, opts...)
		},
	}
	if t.app, err = t.newApp(); err != nil {
		return nil, fmt.Errorf("dataverse: authority %s: %w", authority, err)
	}
	return t, nil
}

func credential(cfg Config) (confidential.Credential, error) {
	switch {
	case cfg.ClientSecret != "" && cfg.CertificateFile != "":
		return confidential.Credential{}, errors.New("dataverse: give either a client secret or a certificate, not both")
	case cfg.ClientSecret != "":
		return confidential.NewCredFromSecret(cfg.ClientSecret)
	case cfg.CertificateFile != "":
		certs, key, err := loadCert(cfg.CertificateFile, cfg.KeyFile)
		if err != nil {
			return confidential.Credential{}, err
		}
		return confidential.NewCredFromCert(certs, key)
	}
	return confidential.Credential{}, errors.New("dataverse: no credential: set a client secret or a certificate file")
}

func loadCert(certFile, keyFile string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	switch strings.ToLower(filepath.Ext(certFile)) {
	case ".pfx", ".p12":
		return nil, nil, fmt.Errorf("dataverse: certificate %s: PKCS#12 is not supported; convert it with `openssl pkcs12 -in %s -nodes -out cert.pem` and use the PEM", certFile, filepath.Base(certFile))
	}
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("dataverse: certificate: %w", err)
	}
	if keyFile != "" {
		k, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("dataverse: key: %w", err)
		}
		data = append(append(data, '\n'), k...)
	}
	certs, key, err := confidential.CertFromPEM(data, "")
	if err != nil {
		return nil, nil, fmt.Errorf("dataverse: certificate %s: %w", certFile, err)
	}
	if len(certs) == 0 || key == nil {
		return nil, nil, fmt.Errorf("dataverse: certificate %s: need a CERTIFICATE and an unencrypted PRIVATE KEY block (KeyFile may hold the key)", certFile)
	}
	return certs, key, nil
}

func (t *msalTokens) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && time.Now().Before(t.renewAt) {
		return t.tok, nil
	}
	return t.acquire(ctx)
}

func (t *msalTokens) renew(ctx context.Context, stale string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && t.tok != stale {
		return t.tok, nil // renewed by another request meanwhile
	}
	// MSAL answers from its cache while the token looks valid; a fresh
	// client has an empty cache and asks the authority.
	app, err := t.newApp()
	if err != nil {
		return "", classifyAuth(err, t.authority, t.clientID)
	}
	t.app = app
	return t.acquire(ctx)
}

// acquire asks MSAL for a token; t.mu is held.
func (t *msalTokens) acquire(ctx context.Context) (string, error) {
	res, err := t.app.AcquireTokenByCredential(ctx, t.scopes)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", classifyAuth(err, t.authority, t.clientID)
	}
	now := time.Now()
	// a token from MSAL's cache is older than now: its lifetime from now is
	// what is left, so the next renewal comes sooner, and MSAL's own margin
	// ends the reuse
	t.tok, t.renewAt = res.AccessToken, now.Add(time.Duration(float64(res.ExpiresOn.Sub(now))*renewShare))
	return t.tok, nil
}
