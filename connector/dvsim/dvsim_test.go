package dvsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

func start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (s *Server) testToken(t testing.TB, aud string, exp time.Time) string {
	return s.signJWT(map[string]any{"aud": aud, "exp": exp.Unix(), "nbf": time.Now().Unix() - 10, "oid": s.appUserOID})
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func get(t testing.TB, s *Server, tok, url string, prefer string) resp {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	r, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, header: r.Header, raw: string(b)}
	_ = json.Unmarshal(b, &out.body)
	return out
}

func TestMSAL(t *testing.T) {
	s := start(t, Options{Seed: 1, Scale: 100})
	ctx := context.Background()
	cred, err := confidential.NewCredFromSecret(s.ClientSecret())
	if err != nil {
		t.Fatal(err)
	}
	app, err := confidential.New(s.Authority(), s.ClientID(), cred, confidential.WithHTTPClient(s.Client()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.AcquireTokenByCredential(ctx, []string{s.URL() + "/.default"})
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, res.AccessToken, s.URL()+"/api/data/v9.2/WhoAmI", ""); r.status != 200 || r.body["UserId"] == nil {
		t.Fatalf("WhoAmI: %d %s", r.status, r.raw)
	}
	// certificate
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "ampel"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	s.AddCertificate(s.ClientID(), cert)
	ccred, err := confidential.NewCredFromCert([]*x509.Certificate{cert}, key)
	if err != nil {
		t.Fatal(err)
	}
	capp, err := confidential.New(s.Authority(), s.ClientID(), ccred, confidential.WithHTTPClient(s.Client()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	cres, err := capp.AcquireTokenByCredential(ctx, []string{s.URL() + "/.default"})
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, cres.AccessToken, s.URL()+"/api/data/v9.2/leads?$top=1", ""); r.status != 200 {
		t.Fatalf("cert token: %d %s", r.status, r.raw)
	}
	// a wrong secret is refused
	bad, _ := confidential.NewCredFromSecret("nope")
	bapp, _ := confidential.New(s.Authority(), s.ClientID(), bad, confidential.WithHTTPClient(s.Client()), confidential.WithInstanceDiscovery(false))
	if _, err := bapp.AcquireTokenByCredential(ctx, []string{s.URL() + "/.default"}); err == nil {
		t.Fatal("wrong secret accepted")
	}
}

func TestAuthRefusals(t *testing.T) {
	s := start(t, Options{Seed: 2, Scale: 100})
	other := start(t, Options{Seed: 3, Scale: 100})
	u := s.URL() + "/api/data/v9.2/leads?$top=1"
	for name, tok := range map[string]string{
		"missing":   "",
		"expired":   s.testToken(t, s.URL(), time.Now().Add(-time.Minute)),
		"audience":  s.testToken(t, "https://other.crm.dynamics.com", time.Now().Add(time.Hour)),
		"signature": other.testToken(t, s.URL(), time.Now().Add(time.Hour)),
		"garbage":   "abc.def.ghi",
	} {
		r := get(t, s, tok, u, "")
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
			t.Errorf("%s: %d %q", name, r.status, r.header.Get("WWW-Authenticate"))
		}
	}
	if r := get(t, s, s.testToken(t, s.URL(), time.Now().Add(time.Hour)), u, ""); r.status != 200 {
		t.Fatalf("good token: %d %s", r.status, r.raw)
	}
}

// walk follows nextLinks and returns ids (and the deltaLink if any).
func walk(t *testing.T, s *Server, tok, url, prefer, key string) ([]string, string, int) {
	t.Helper()
	var ids []string
	pages := 0
	for url != "" {
		r := get(t, s, tok, url, prefer)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", url, r.status, r.raw)
		}
		pages++
		for _, v := range r.body["value"].([]any) {
			m := v.(map[string]any)
			if id, ok := m[key].(string); ok {
				ids = append(ids, id)
			} else {
				ids = append(ids, "deleted:"+m["id"].(string))
			}
		}
		url, _ = r.body["@odata.nextLink"].(string)
		if dl, ok := r.body["@odata.deltaLink"].(string); ok {
			return ids, dl, pages
		}
	}
	return ids, "", pages
}

func TestNextLinkWalk(t *testing.T) {
	s := start(t, Options{Seed: 4, Scale: 1000})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	for _, set := range []string{"leads", "phonecalls", "activitypointers", "accounts"} {
		key := map[string]string{"leads": "leadid", "phonecalls": "activityid", "activitypointers": "activityid", "accounts": "accountid"}[set]
		logical := map[string]string{"leads": "lead", "phonecalls": "phonecall", "activitypointers": "activitypointer", "accounts": "account"}[set]
		for _, q := range []string{"", "&$orderby=modifiedon asc," + key + " asc"} {
			ids, _, pages := walk(t, s, tok, s.URL()+"/api/data/v9.2/"+set+"?$select=createdon,modifiedon"+strings.ReplaceAll(q, " ", "%20"), `odata.maxpagesize=97, odata.include-annotations="*"`, key)
			want := s.Records(logical)
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("%s%s: %s twice", set, q, id)
				}
				seen[id] = true
			}
			if len(ids) != len(want) || pages < 2 {
				t.Fatalf("%s%s: %d rows in %d pages, want %d", set, q, len(ids), pages, len(want))
			}
			for _, m := range want {
				if !seen[m[key].(string)] {
					t.Fatalf("%s: missing %v", set, m[key])
				}
			}
		}
	}
}

func TestDeltaAfterMutate(t *testing.T) {
	s := start(t, Options{Seed: 5, Scale: 500})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	for _, set := range []string{"leads", "phonecalls"} {
		key := map[string]string{"leads": "leadid", "phonecalls": "activityid"}[set]
		logical := map[string]string{"leads": "lead", "phonecalls": "phonecall"}[set]
		ids, delta, _ := walk(t, s, tok, s.URL()+"/api/data/v9.2/"+set+"?$select=modifiedon", "odata.track-changes, odata.maxpagesize=100", key)
		if delta == "" || len(ids) != len(s.Records(logical)) {
			t.Fatalf("%s: baseline %d rows, deltaLink %q", set, len(ids), delta)
		}
		res := s.Mutate(20, 40, 10)
		want := map[string]bool{}
		for _, id := range append(res.Created[logical], res.Updated[logical]...) {
			want[id] = true
		}
		for _, id := range res.Deleted[logical] {
			delete(want, id)
			want["deleted:"+id] = true
		}
		got, next, _ := walk(t, s, tok, delta, "odata.maxpagesize=7", key)
		if next == "" {
			t.Fatal("no new deltaLink")
		}
		gotSet := map[string]bool{}
		for _, id := range got {
			gotSet[id] = true
		}
		if len(gotSet) != len(got) || len(gotSet) != len(want) {
			t.Fatalf("%s: delta %d rows (%d distinct), want %d", set, len(got), len(gotSet), len(want))
		}
		for id := range want {
			if !gotSet[id] {
				t.Fatalf("%s: delta misses %s", set, id)
			}
		}
		// nothing changed → empty delta
		if got, _, _ := walk(t, s, tok, next, "", key); len(got) != 0 {
			t.Fatalf("empty delta returned %d", len(got))
		}
		s.ExpireDeltaTokens()
		if r := get(t, s, tok, next, ""); r.status != 400 || !strings.Contains(r.raw, codeExpiredVersion) {
			t.Fatalf("expired token: %d %s", r.status, r.raw)
		}
	}
	if r := get(t, s, tok, s.URL()+"/api/data/v9.2/leads?$deltatoken=garbage", ""); r.status != 400 {
		t.Fatalf("malformed token: %d", r.status)
	}
	s.SetFaults(Faults{NoChangeTracking: []string{"lead"}})
	if r := get(t, s, tok, s.URL()+"/api/data/v9.2/leads", "odata.track-changes"); r.status != 400 || !strings.Contains(r.raw, "isn't enabled for change tracking") {
		t.Fatalf("untracked: %d %s", r.status, r.raw)
	}
}

func TestThrottle(t *testing.T) {
	s := start(t, Options{Seed: 6, Scale: 100, Throttle: Throttle{Requests: 5, Window: time.Minute}})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	u := s.URL() + "/api/data/v9.2/systemusers?$top=1"
	for i := 0; i < 5; i++ {
		if r := get(t, s, tok, u, ""); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := get(t, s, tok, u, "")
	if r.status != 429 || !strings.Contains(r.raw, "0x80072322") {
		t.Fatalf("6th: %d %s", r.status, r.raw)
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra > "60" && len(ra) >= 2 {
		t.Fatalf("Retry-After %q", ra)
	}
	if st := s.Stats(); st.Throttled != 1 {
		t.Fatalf("stats %+v", st)
	}
	// concurrency: hold requests inside the handler
	s.SetThrottle(Throttle{Concurrent: 2})
	s.testHold = make(chan struct{})
	done := make(chan int, 3)
	for i := 0; i < 2; i++ {
		go func() { done <- get(t, s, tok, u, "").status }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.limMu.Lock()
		n := 0
		for _, ul := range s.limits {
			n += ul.inflight
		}
		s.limMu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r = get(t, s, tok, u, "")
	if r.status != 429 || !strings.Contains(r.raw, "0x80072326") {
		t.Fatalf("3rd concurrent: %d %s", r.status, r.raw)
	}
	s.testHold <- struct{}{}
	s.testHold <- struct{}{}
	for i := 0; i < 2; i++ {
		if st := <-done; st != 200 {
			t.Fatalf("held request: %d", st)
		}
	}
}

func TestFilterMetadataTruth(t *testing.T) {
	s := start(t, Options{Seed: 7, Scale: 300})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	api := s.URL() + "/api/data/v9.2/"
	r := get(t, s, tok, api+"leads?$filter=statecode%20eq%201%20and%20modifiedon%20ge%202000-01-01T00:00:00Z&$select=fullname,_parentaccountid_value,statecode&$count=true", `odata.include-annotations="*"`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	rows := r.body["value"].([]any)
	if len(rows) == 0 || int(r.body["@odata.count"].(float64)) != len(rows) {
		t.Fatalf("count %v rows %d", r.body["@odata.count"], len(rows))
	}
	row := rows[0].(map[string]any)
	if row["statecode@OData.Community.Display.V1.FormattedValue"] != "Qualified" || row["_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "account" {
		t.Fatalf("annotations: %v", row)
	}
	acc := row["_parentaccountid_value"].(string)
	r = get(t, s, tok, api+"accounts("+acc+")?$select=name", "")
	if r.status != 200 || r.body["name"] != row["_parentaccountid_value@OData.Community.Display.V1.FormattedValue"] {
		t.Fatalf("lookup target: %d %s", r.status, r.raw)
	}
	if r := get(t, s, tok, api+"leads?$filter=nosuch%20eq%201", ""); r.status != 400 || !strings.Contains(r.raw, `"code":"0x80060888"`) {
		t.Fatalf("bad filter: %d %s", r.status, r.raw)
	}
	r = get(t, s, tok, api+"EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.StatusAttributeMetadata?$select=LogicalName&$expand=OptionSet", "")
	if r.status != 200 || !strings.Contains(r.raw, `"No Longer Interested"`) {
		t.Fatalf("metadata: %d %s", r.status, r.raw)
	}
	r = get(t, s, tok, api+"EntityDefinitions(LogicalName='lead')?$select=EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled&$expand=Attributes($select=LogicalName,AttributeType)", "")
	if r.status != 200 || r.body["EntitySetName"] != "leads" || len(r.body["Attributes"].([]any)) < 20 {
		t.Fatalf("entity: %d %s", r.status, r.raw)
	}
	if err := s.AddColumn("lead", "new_score", "Integer"); err != nil {
		t.Fatal(err)
	}
	if recs := s.Records("lead"); len(recs) == 0 || !hasKey(recs, "new_score") {
		t.Fatal("added column missing from records")
	}
	tr := s.Truth()
	if tr.Tables["lead"].Count == 0 || len(tr.Duplicates["lead"]) == 0 || tr.Completeness["lead"]["emailaddress1"] <= 0.9 || len(tr.WonRevenue) == 0 || len(tr.TicketsWeek) == 0 {
		b, _ := json.Marshal(tr)
		t.Fatalf("truth: %.600s", b)
	}
	// determinism
	s2 := start(t, Options{Seed: 7, Scale: 300, Now: s.now})
	a, _ := json.Marshal(s2.Records("opportunity"))
	s3 := start(t, Options{Seed: 7, Scale: 300, Now: s.now})
	b, _ := json.Marshal(s3.Records("opportunity"))
	if string(a) != string(b) {
		t.Fatal("same seed, different data")
	}
}

func hasKey(recs []map[string]any, k string) bool {
	for _, m := range recs {
		if m[k] != nil {
			return true
		}
	}
	return false
}

// BenchmarkLeadPages serves 5000-lead pages with every annotation; one op
// is 20 pages over a warm connection, so that `-benchtime 1x` (make bench)
// measures serving, not the TLS handshake.
func BenchmarkLeadPages(b *testing.B) {
	s := start(b, Options{Seed: 1, Scale: 20000})
	tok := s.testToken(b, s.URL(), time.Now().Add(time.Hour))
	client := s.Client()
	url := s.URL() + "/api/data/v9.2/leads"
	page := func() int64 {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Prefer", `odata.maxpagesize=5000, odata.include-annotations="*"`)
		r, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Body.Close()
		n, _ := io.Copy(io.Discard, r.Body)
		return n
	}
	page() // connect
	const pages = 20
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n int64
		for range pages {
			n += page()
		}
		b.SetBytes(n)
	}
	b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
}
