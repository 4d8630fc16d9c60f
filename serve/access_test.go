package serve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/metrics"
	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestKeys: a key is taken as the Basic password (any user name), as the
// key query parameter and as a Bearer token; a wrong, missing or revoked
// key gets 401 with the Basic challenge; no key reaches the log.
func TestKeys(t *testing.T) {
	f := newFixture(t, warehousetest.Embedded(t))
	f.publish(t, 1, makeLeads(3, ""))
	other := "second-key-for-the-feed-tests-xyz"
	hash := sha256.Sum256([]byte(other))
	hashed, err := serve.KeyFromHash("finance", hex.EncodeToString(hash[:]))
	require.NoError(t, err)
	ts := startServer(t, f, serve.Options{Keys: []serve.Key{serve.KeyFromSecret("powerbi", testKey), hashed}, KeyParam: "ApiKey"})

	noAuth := []string{"Authorization", ""}
	for _, c := range []struct {
		name string
		url  string
		hdr  []string
		ok   bool
	}{
		{"basic", "/odata/leads", nil, true},
		{"basic, other user, hashed key", "/odata/leads", []string{"Authorization", basic("someone", other)}, true},
		{"query parameter", "/odata/leads?ApiKey=" + url.QueryEscape(testKey), noAuth, true},
		{"query parameter and options", "/odata/leads?$top=1&ApiKey=" + url.QueryEscape(other), noAuth, true},
		{"bearer", "/odata/leads", []string{"Authorization", "Bearer " + testKey}, true},
		{"service document", "/odata/?ApiKey=" + url.QueryEscape(testKey), noAuth, true},
		{"no key", "/odata/leads", noAuth, false},
		{"no key, metadata", "/odata/$metadata", noAuth, false},
		{"wrong basic password", "/odata/leads", []string{"Authorization", basic("powerbi", testKey+"x")}, false},
		{"key as the user name", "/odata/leads", []string{"Authorization", basic(testKey, "")}, false},
		{"wrong parameter", "/odata/leads?api_key=" + url.QueryEscape(testKey), noAuth, false},
		{"wrong bearer", "/odata/leads", []string{"Authorization", "Bearer nope"}, false},
		{"prefix of the key", "/odata/leads", []string{"Authorization", "Bearer " + testKey[:10]}, false},
	} {
		r := get(t, ts.url+c.url, c.hdr...)
		if c.ok {
			require.Equal(t, http.StatusOK, r.status, "%s: %s", c.name, r.body)
			continue
		}
		odataError(t, r, http.StatusUnauthorized)
		require.Equal(t, `Basic realm="Ampel", charset="UTF-8"`, r.header.Get("WWW-Authenticate"), c.name)
	}

	// revoked: the same server without the key's entry
	ts.stop()
	revoked := startServer(t, f, serve.Options{Keys: []serve.Key{hashed}})
	odataError(t, get(t, revoked.url+"/odata/leads"), http.StatusUnauthorized)
	require.Equal(t, http.StatusOK, get(t, revoked.url+"/odata/leads", "Authorization", basic("x", other)).status)
	revoked.stop()

	logs := ts.log.String() + revoked.log.String()
	require.Contains(t, logs, "key=powerbi")
	require.Contains(t, logs, "key=finance")
	require.Contains(t, logs, "ApiKey=REDACTED")
	for _, secret := range []string{testKey, other, url.QueryEscape(testKey), url.QueryEscape(other), testKey[:10]} {
		require.NotContains(t, logs, secret, "a key in the access log")
	}

	// the keys guard other routes too, through CheckKey
	s, err := serve.New(serve.Options{Store: f.st, Keys: []serve.Key{hashed}})
	require.NoError(t, err)
	name, ok := s.CheckKey(other)
	require.True(t, ok)
	require.Equal(t, "finance", name)
	_, ok = s.CheckKey(testKey)
	require.False(t, ok)
	_, ok = s.CheckKey("")
	require.False(t, ok)

	// nobody gets in without keys configured
	none := startServer(t, f, serve.Options{Keys: []serve.Key{}})
	odataError(t, get(t, none.url+"/odata/leads"), http.StatusUnauthorized)
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// TestTLS serves the feed over TLS from certificate files, as tls_cert
// and tls_key give them.
func TestTLS(t *testing.T) {
	f := newFixture(t, warehousetest.Embedded(t))
	f.publish(t, 1, makeLeads(5, ""))
	certFile, keyFile, pool := selfSigned(t)
	s, err := serve.New(serve.Options{Store: f.st, Marts: marts{f}, Keys: []serve.Key{serve.KeyFromSecret("t", testKey)}, PageSize: 2})
	require.NoError(t, err)
	ln, err := serve.Listen("127.0.0.1:0", certFile, keyFile)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	old := http.DefaultClient
	http.DefaultClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer func() { http.DefaultClient = old }()
	base := "https://" + ln.Addr().String()
	rows, pages := readAll(t, base+"/odata/leads")
	require.Len(t, rows, 5)
	require.Equal(t, 3, pages)
	p := decodePage(t, get(t, base+"/odata/leads"))
	require.True(t, strings.HasPrefix(p.NextLink, base+"/odata/leads?"), p.NextLink)

	// plain HTTP to the TLS port is no answer
	resp, err := old.Get("http://" + ln.Addr().String() + "/odata/")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NotEqual(t, http.StatusOK, resp.StatusCode, "%s", body)
	}
	_, err = serve.Listen("127.0.0.1:0", certFile, filepath.Join(t.TempDir(), "missing.pem"))
	require.ErrorContains(t, err, "load the TLS certificate")
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ampel test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile, pool
}

// TestMetadataSchema checks $metadata with xmllint against the CSDL
// schema in testdata (the part of OASIS CSDL 4.0 the feed writes, see
// testdata/edm.xsd), on both engines; a document without a key fails it.
func TestMetadataSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	require.NoError(t, err, "xmllint is missing: run deploy/install-test-deps.sh (Debian's libxml2-utils)")
	validate := func(doc []byte) (string, error) {
		file := filepath.Join(t.TempDir(), "metadata.xml")
		require.NoError(t, os.WriteFile(file, doc, 0o644))
		out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "edmx.xsd"), file).CombinedOutput()
		return string(out), err
	}
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			f := newFixture(t, cfg)
			ts := startServer(t, f, serve.Options{})
			r := get(t, ts.url+"/odata/$metadata")
			require.Equal(t, http.StatusOK, r.status)
			out, err := validate(r.body)
			require.NoError(t, err, "%s\n%s", out, r.body)
			require.Contains(t, out, "validates")

			broken := strings.Replace(string(r.body), `<PropertyRef Name="lead_id"/>`, "", 1)
			broken = strings.Replace(broken, "<Key>\n        </Key>\n", "", 1)
			require.NotEqual(t, string(r.body), broken)
			out, err = validate([]byte(broken))
			require.Error(t, err, "a type without a key validates:\n%s", out)
			out, err = validate([]byte(strings.Replace(string(r.body), "Edm.Decimal", "Edm.Money", 1)))
			require.Error(t, err, "an unknown type validates:\n%s", out)
		})
	}
}

// TestHealthzAndMetrics: /healthz says the warehouse answers and when
// each environment last synced (from sync_runs), 503 when the warehouse
// is gone; /metrics counts feed requests and rows. Neither needs a key.
func TestHealthzAndMetrics(t *testing.T) {
	cfg := warehousetest.ClickHouse(t)
	f := newFixture(t, cfg)
	f.publish(t, 1, makeLeads(9, ""))
	warehousetest.Exec(t, f.st, "CREATE TABLE sync_runs (environment String, table_name String, finished_at DateTime('UTC'), status String) ENGINE = MergeTree ORDER BY environment")
	warehousetest.Exec(t, f.st, "INSERT INTO sync_runs (environment, table_name, finished_at, status) VALUES "+
		"('prod', 'lead', '2026-01-02 03:04:05', 'ok'), ('prod', 'account', '2026-01-02 04:00:00', 'failed'), ('test', 'lead', '2026-01-01 00:00:00', 'failed')")
	m := metrics.New()
	ts := startServer(t, f, serve.Options{Metrics: m, PageSize: 4})

	r := get(t, ts.url+"/healthz", "Authorization", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var h serve.Health
	require.NoError(t, json.Unmarshal(r.body, &h))
	require.Equal(t, "ok", h.Status)
	require.Len(t, h.Environments, 2)
	prod, test := h.Environments[0], h.Environments[1]
	require.Equal(t, "prod", prod.Name)
	require.Equal(t, time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), prod.LastSync.UTC())
	require.Equal(t, "failed", prod.LastStatus)
	require.NotNil(t, prod.LastSuccess)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), prod.LastSuccess.UTC())
	require.Equal(t, "test", test.Name)
	require.Nil(t, test.LastSuccess, "no successful sync")

	rows, _ := readAll(t, ts.url+"/odata/leads")
	require.Len(t, rows, 9)
	get(t, ts.url+"/odata/nope")
	get(t, ts.url+"/odata/leads", "Authorization", "")
	r = get(t, ts.url+"/metrics", "Authorization", "")
	require.Equal(t, http.StatusOK, r.status)
	text := string(r.body)
	for _, want := range []string{
		`ampel_feed_rows_total{set="leads"} 9`,
		`ampel_feed_requests_total{code="200",set="leads"} 3`,
		`ampel_feed_requests_total{code="404",set="nope"} 1`,
		`ampel_feed_requests_total{code="401",set=""} 1`,
	} {
		require.Contains(t, text, want)
	}

	// the warehouse goes away: 503
	require.NoError(t, f.st.Close())
	r = get(t, ts.url+"/healthz", "Authorization", "")
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	require.NoError(t, json.Unmarshal(r.body, &h))
	require.Equal(t, "unavailable", h.Status)
	require.NotEmpty(t, h.Error)
}
