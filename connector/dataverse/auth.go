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

// refreshMargin: a cached token with less than this left is renewed before
// use, so a request (or a long page read) never starts with a token about
// to expire. MSAL's own cache uses the same margin.
const refreshMargin = 5 * time.Minute

type tokenSource interface {
	token(ctx context.Context, force bool) (string, error)
}

type funcTokens func(ctx context.Context, force bool) (string, error)

func (f funcTokens) token(ctx context.Context, force bool) (string, error) { return f(ctx, force) }

// msalTokens gets app tokens with the MSAL confidential client. It keeps
// the current token and its expiry, asks MSAL's cache (AcquireTokenSilent)
// when it is within refreshMargin of expiring, and the authority
// (AcquireTokenByCredential) when the cache has nothing fresh.
type msalTokens struct {
	mu        sync.Mutex
	newApp    func() (confidential.Client, error)
	app       confidential.Client
	scopes    []string
	authority string
	clientID  string
	tok       string
	exp       time.Time
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

func (t *msalTokens) token(ctx context.Context, force bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !force && t.tok != "" && time.Until(t.exp) > refreshMargin {
		return t.tok, nil
	}
	if force {
		// MSAL answers from its cache while the token looks valid; a fresh
		// client has an empty cache and asks the authority.
		app, err := t.newApp()
		if err != nil {
			return "", classifyAuth(err, t.authority, t.clientID)
		}
		t.app = app
	} else if res, err := t.app.AcquireTokenSilent(ctx, t.scopes); err == nil && time.Until(res.ExpiresOn) > refreshMargin {
		t.tok, t.exp = res.AccessToken, res.ExpiresOn
		return t.tok, nil
	}
	res, err := t.app.AcquireTokenByCredential(ctx, t.scopes)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", classifyAuth(err, t.authority, t.clientID)
	}
	t.tok, t.exp = res.AccessToken, res.ExpiresOn
	return t.tok, nil
}
