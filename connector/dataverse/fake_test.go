package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testTenant = "11111111-1111-1111-1111-111111111111"
	testClient = "22222222-2222-2222-2222-222222222222"
	testSecret = "s3cret-value-never-printed"
)

// fakeEnv is a TLS server playing both the Entra ID authority (under
// /<tenant>/) and a Dataverse environment (under /api/data/v9.2/).
type fakeEnv struct {
	srv        *httptest.Server
	tokenCalls atomic.Int64
	expiresIn  int
	tokenSeq   atomic.Int64
	mu         sync.Mutex
	api        http.HandlerFunc
	validTok   func(string) bool
}

func newFakeEnv(t *testing.T, api http.HandlerFunc) *fakeEnv {
	t.Helper()
	f := &fakeEnv{api: api, expiresIn: 3600}
	f.validTok = func(tok string) bool { return strings.HasPrefix(tok, "tok-") }
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEnv) serve(w http.ResponseWriter, r *http.Request) {
	base := f.srv.URL
	switch {
	case strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
		tenant := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0]
		if tenant != testTenant {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_tenant","error_description":"AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID.","error_codes":[90002]}`, tenant)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_endpoint":"%[1]s/%[2]s/oauth2/v2.0/token","authorization_endpoint":"%[1]s/%[2]s/oauth2/v2.0/authorize","issuer":"%[1]s/%[2]s/v2.0"}`, base, tenant)
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		_ = r.ParseForm()
		f.tokenCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("client_id") != testClient {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'x' was not found in the directory."}`)
			return
		}
		if r.PostForm.Get("client_secret") != testSecret && r.PostForm.Get("client_assertion") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.","error_codes":[7000215]}`)
			return
		}
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"access_token":"tok-%d"}`, f.expiresIn, f.tokenSeq.Add(1))
	case strings.HasPrefix(r.URL.Path, "/api/data/v9.2/"):
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !f.validTok(tok) {
			writeErr(w, http.StatusUnauthorized, "", "Bearer token invalid")
			return
		}
		f.api(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *fakeEnv) config() Config {
	return Config{
		URL: f.srv.URL, Authority: f.srv.URL + "/" + testTenant, ClientID: testClient, ClientSecret: testSecret,
		HTTPClient: f.srv.Client(), RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond, MaxWait: 5 * time.Second,
	}
}

func (f *fakeEnv) client(t *testing.T, mod func(*Config)) *Client {
	t.Helper()
	cfg := f.config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return c
}

func whoAmIHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/data/v9.2/WhoAmI" {
		fmt.Fprint(w, `{"@odata.context":"x","BusinessUnitId":"b","UserId":"u","OrganizationId":"o"}`)
		return
	}
	http.NotFound(w, r)
}
