package dvsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// control sends method to the control endpoint path with a JSON body
// ("" for none) and returns the status and body.
func control(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	if r.StatusCode >= 400 && json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return r.StatusCode, e.Error.Message
	}
	return r.StatusCode, string(b)
}

// issueToken gets a token from the simulator's token endpoint, as MSAL does.
func issueToken(t *testing.T, s *Server) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
		"scope": {s.URL() + "/.default"}}
	r, err := s.Client().PostForm(s.Authority()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", r.StatusCode, err)
	}
	return tok.AccessToken
}

func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

// TestControlFaults switches faults over HTTP: GET shows them, POST and
// PUT set them, and settings out of range are refused with the reason,
// leaving the faults as they were.
func TestControlFaults(t *testing.T) {
	s := start(t, Options{Seed: 21, Scale: 100})
	tok := issueToken(t, s)
	who := s.URL() + "/api/data/v9.2/WhoAmI"

	code, body := control(t, s, "GET", "/_sim/faults", "")
	if code != 200 {
		t.Fatalf("GET faults: %d %s", code, body)
	}
	if f := decodeJSON[map[string]any](t, body); f["error_rate"] != 0.0 || f["latency"] != "0s" || len(f["no_change_tracking"].([]any)) != 0 {
		t.Fatalf("default faults: %s", body)
	}

	// a 503 burst: every API request fails until it is switched off
	if code, body = control(t, s, "POST", "/_sim/faults", `{"error_rate": 1}`); code != 200 {
		t.Fatalf("POST faults: %d %s", code, body)
	}
	before := s.Stats()
	for i := 0; i < 4; i++ {
		if r := get(t, s, tok, who, ""); r.status != 502 && r.status != 503 {
			t.Fatalf("request %d under error_rate 1: %d", i, r.status)
		}
	}
	after := s.Stats()
	if after.Faults-before.Faults != 4 || after.Errors-before.Errors != 4 {
		t.Fatalf("stats before %+v, after %+v", before, after)
	}
	if code, _ = control(t, s, "PUT", "/_sim/faults", `{"latency": "5ms", "no_read_privilege": ["lead"]}`); code != 200 {
		t.Fatalf("PUT faults: %d", code)
	}
	if r := get(t, s, tok, who, ""); r.status != 200 {
		t.Fatalf("after the burst: %d %s", r.status, r.raw)
	}
	if r := get(t, s, tok, s.URL()+"/api/data/v9.2/leads?$top=1", ""); r.status != 403 || !strings.Contains(r.raw, "0x80040220") {
		t.Fatalf("no read privilege: %d %s", r.status, r.raw)
	}

	for body, want := range map[string]string{
		`{"error_rate": 2}`:                    "error rate 2: a share between 0 and 1",
		`{"drop_rate": -0.5}`:                  "drop rate -0.5",
		`{"latency": "-1s"}`:                   "latency -1s: must not be negative",
		`{"latency": "soon"}`:                  `latency "soon": not a duration`,
		`{"no_read_privilege": ["leed"]}`:      `"leed" is not a simulated table`,
		`{"no_change_tracking": ["Incident"]}`: `"Incident" is not a simulated table`,
		`{"errors": 0.1}`:                      `unknown field "errors"`,
		`not json`:                             "invalid character",
	} {
		code, got := control(t, s, "POST", "/_sim/faults", body)
		if code != 400 || !strings.Contains(got, want) {
			t.Fatalf("POST %s: %d %s, want 400 with %q", body, code, got, want)
		}
	}
	_, body = control(t, s, "GET", "/_sim/faults", "")
	if f := decodeJSON[Faults](t, body); f.Latency != 5*time.Millisecond || len(f.NoReadPrivilege) != 1 || f.ErrorRate != 0 {
		t.Fatalf("refused settings changed the faults: %s", body)
	}
	if code, _ = control(t, s, "DELETE", "/_sim/faults", ""); code < 400 {
		t.Fatalf("DELETE faults: %d", code)
	}
}

// TestControlThrottleAndTracking sets service protection limits and change
// tracking over HTTP, expires delta links and tokens, and reads the
// request counts by kind.
func TestControlThrottleAndTracking(t *testing.T) {
	s := start(t, Options{Seed: 22, Scale: 100})
	tok := issueToken(t, s)
	api := s.URL() + "/api/data/v9.2/"

	if code, body := control(t, s, "POST", "/_sim/throttle", `{"requests": 2, "window": "1m", "retry_after": "1s"}`); code != 200 ||
		decodeJSON[Throttle](t, body) != (Throttle{Requests: 2, Window: time.Minute, RetryAfter: time.Second}) {
		t.Fatalf("POST throttle: %d %s", code, body)
	}
	for i := 0; i < 2; i++ {
		if r := get(t, s, tok, api+"WhoAmI", ""); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	if r := get(t, s, tok, api+"WhoAmI", ""); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third request: %d %s", r.status, r.raw)
	}
	for body, want := range map[string]string{
		`{"requests": -5}`:   "requests -5: must not be negative",
		`{"concurrent": -1}`: "concurrent -1",
		`{"window": "5m"}`:   "needs a number of requests",
		`{"window": 300}`:    "cannot unmarshal number",
	} {
		if code, got := control(t, s, "PUT", "/_sim/throttle", body); code != 400 || !strings.Contains(got, want) {
			t.Fatalf("PUT %s: %d %s, want %q", body, code, got, want)
		}
	}
	if code, _ := control(t, s, "PUT", "/_sim/throttle", `{}`); code != 200 {
		t.Fatal("throttle off")
	}

	// change tracking, table by table
	code, body := control(t, s, "GET", "/_sim/change-tracking", "")
	if ct := decodeJSON[map[string]bool](t, body); code != 200 || len(ct) != len(TableNames) || !ct["lead"] {
		t.Fatalf("GET change-tracking: %d %s", code, body)
	}
	if code, body = control(t, s, "POST", "/_sim/change-tracking", `{"lead": false}`); code != 200 || decodeJSON[map[string]bool](t, body)["lead"] {
		t.Fatalf("POST change-tracking: %d %s", code, body)
	}
	if r := get(t, s, tok, api+"leads", "odata.track-changes"); r.status != 400 || !strings.Contains(r.raw, "isn't enabled for change tracking") {
		t.Fatalf("lead untracked: %d %s", r.status, r.raw)
	}
	if code, body = control(t, s, "POST", "/_sim/change-tracking", `{"lead": true, "leed": true}`); code != 400 || !strings.Contains(body, `"leed" is not a simulated table`) {
		t.Fatalf("unknown table: %d %s", code, body)
	}
	if s.ChangeTracking()["lead"] {
		t.Fatal("a refused request changed change tracking")
	}
	control(t, s, "PUT", "/_sim/change-tracking", `{"lead": true}`)

	// expired delta links
	r := get(t, s, tok, api+"systemusers?$select=fullname", "odata.track-changes")
	delta, _ := r.body["@odata.deltaLink"].(string)
	if delta == "" {
		t.Fatalf("no delta link: %s", r.raw)
	}
	if r := get(t, s, tok, delta, ""); r.status != 200 {
		t.Fatalf("delta before expiry: %d", r.status)
	}
	if code, _ := control(t, s, "POST", "/_sim/expire-deltas", ""); code != 204 {
		t.Fatalf("expire-deltas: %d", code)
	}
	if r := get(t, s, tok, delta, ""); r.status != 400 || !strings.Contains(r.raw, codeExpiredVersion) {
		t.Fatalf("delta after expiry: %d %s", r.status, r.raw)
	}

	// expired tokens: refused until a new one is issued
	if code, _ := control(t, s, "POST", "/_sim/expire-tokens", ""); code != 204 {
		t.Fatalf("expire-tokens: %d", code)
	}
	if r := get(t, s, tok, api+"WhoAmI", ""); r.status != 401 || !strings.Contains(r.raw, "Bearer token expired") {
		t.Fatalf("expired token: %d %s", r.status, r.raw)
	}
	if r := get(t, s, issueToken(t, s), api+"WhoAmI", ""); r.status != 200 {
		t.Fatalf("new token: %d %s", r.status, r.raw)
	}

	code, body = control(t, s, "GET", "/_sim/stats", "")
	st := decodeJSON[Stats](t, body)
	// WhoAmI: 2 ok, 1 throttled, 1 expired token, 1 with the new one
	if code != 200 || st.ByKind["whoami"] != 5 || st.ByKind["delta"] != 2 || st.ByKind["query"] != 2 || st.Throttled != 1 || st.Errors != 3 || st.TokensIssued != 2 {
		t.Fatalf("stats: %d %s", code, body)
	}
	if st.Requests != st.ByKind["whoami"]+st.ByKind["delta"]+st.ByKind["query"] {
		t.Fatalf("requests %d are not the sum of the kinds: %s", st.Requests, body)
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Scale: -5},
		{Faults: Faults{ErrorRate: 2}},
		{Faults: Faults{NoChangeTracking: []string{"leads"}}},
		{Throttle: Throttle{Requests: -5}},
	} {
		if s, err := Start(o); err == nil {
			s.Close()
			t.Fatalf("Start(%+v) started", o)
		}
	}
}

// TestTableNames: the list the options are checked against is the schema's.
func TestTableNames(t *testing.T) {
	s := start(t, Options{Seed: 23, Scale: 100})
	var got []string
	for _, tb := range s.tables {
		got = append(got, tb.logical)
	}
	if strings.Join(got, ",") != strings.Join(TableNames, ",") {
		t.Fatalf("TableNames %v, schema %v", TableNames, got)
	}
}
