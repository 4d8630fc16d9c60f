// Package dataversetest has small fakes for tests of code built on
// package dataverse: a TLS server with a fixed token, and a handler that
// serves table metadata from JSON files. For whole-environment tests use
// the simulator in connector/dvsim instead.
package dataversetest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ampel/ampel/connector/dataverse"
)

// Token is the bearer token the fake server accepts.
const Token = "dataversetest-token"

// NewClient starts a TLS server running h behind a bearer-token check and
// returns a Client for it (retry waits shortened) and the server. The
// server is closed when the test ends.
func NewClient(t testing.TB, h http.Handler, mod func(*dataverse.Config)) (*dataverse.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+Token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"","message":"bad token"}}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := dataverse.Config{
		URL: srv.URL, HTTPClient: srv.Client(), RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond, MaxWait: time.Second,
		TokenFunc: func(context.Context, bool) (string, error) { return Token, nil },
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := dataverse.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

var (
	entityRE = regexp.MustCompile(`^/api/data/v9\.2/EntityDefinitions\(LogicalName='([a-z0-9_]+)'\)(/Attributes(/Microsoft\.Dynamics\.CRM\.([A-Za-z]+))?)?$`)
)

// MetadataHandler serves EntityDefinitions requests from dir:
// <table>.json for the table, <table>.attributes.json for its Attributes,
// <table>.<Cast>.json for /Attributes/Microsoft.Dynamics.CRM.<Cast>. A
// missing file is a 404 with a Dataverse error body. Query options are
// ignored: the files hold what the client asks for.
func MetadataHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := entityRE.FindStringSubmatch(r.URL.Path)
		if m == nil {
			notFound(w, "Resource not found for the segment '"+r.URL.Path+"'.")
			return
		}
		name := m[1] + ".json"
		switch {
		case m[4] != "":
			name = m[1] + "." + m[4] + ".json"
		case m[2] != "":
			name = m[1] + ".attributes.json"
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			notFound(w, "Could not find a metadata file "+name+".")
			return
		}
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		_, _ = w.Write(data)
	})
}

func notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"error":{"code":"0x80060888","message":"` + msg + `"}}`))
}
