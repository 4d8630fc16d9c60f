package dvsim

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRefusals: an unknown tenant at the authority, a missing application
// user and a missing read privilege are answered the way Entra ID and
// Dataverse answer them.
func TestRefusals(t *testing.T) {
	s := start(t, Options{Seed: 3, Scale: 100})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	errCode := func(r resp) string {
		e, _ := r.body["error"].(map[string]any)
		code, _ := e["code"].(string)
		return code
	}

	r := get(t, s, "", s.URL()+"/00000000-0000-4000-8000-000000000bad/v2.0/.well-known/openid-configuration", "")
	if r.status != 400 || r.body["error"] != "invalid_tenant" || !strings.HasPrefix(r.body["error_description"].(string), "AADSTS90002: Tenant '00000000-0000-4000-8000-000000000bad' not found.") {
		t.Fatalf("unknown tenant: %d %s", r.status, r.raw)
	}
	if r := get(t, s, "", s.Authority()+"/v2.0/.well-known/openid-configuration", ""); r.status != 200 {
		t.Fatalf("own tenant: %d %s", r.status, r.raw)
	}

	s.SetFaults(Faults{NoReadPrivilege: []string{"lead"}})
	r = get(t, s, tok, s.URL()+"/api/data/v9.2/leads?$top=1", "")
	if r.status != 403 || errCode(r) != "0x80040220" || !strings.Contains(r.raw, "is missing prvReadLead privilege") {
		t.Fatalf("no read privilege: %d %s", r.status, r.raw)
	}
	if r := get(t, s, tok, s.URL()+"/api/data/v9.2/EntityDefinitions(LogicalName='lead')", ""); r.status != 200 {
		t.Fatalf("metadata stays readable: %d %s", r.status, r.raw)
	}
	if r := get(t, s, tok, s.URL()+"/api/data/v9.2/accounts?$top=1", ""); r.status != 200 {
		t.Fatalf("other tables stay readable: %d %s", r.status, r.raw)
	}

	s.SetFaults(Faults{NoAppUser: true})
	for _, p := range []string{"WhoAmI", "accounts?$top=1", "EntityDefinitions(LogicalName='lead')"} {
		r := get(t, s, tok, s.URL()+"/api/data/v9.2/"+p, "")
		if r.status != 403 || errCode(r) != "0x80072560" || !strings.Contains(r.raw, "not a member of the organization") {
			t.Fatalf("no app user, %s: %d %s", p, r.status, r.raw)
		}
	}

	s.SetFaults(Faults{})
	if r := get(t, s, tok, s.URL()+"/api/data/v9.2/leads?$top=1", ""); r.status != 200 {
		t.Fatalf("faults off: %d %s", r.status, r.raw)
	}
}

func TestRetrieveTotalRecordCount(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Seed: 2, Scale: 150})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	r := get(t, s, tok, s.URL()+"/api/data/v9.2/RetrieveTotalRecordCount(EntityNames=['lead','contact'])", "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	coll := r.body["EntityRecordCountCollection"].(map[string]any)
	values := coll["Values"].([]any)
	truth := s.Truth()
	if fmt.Sprint(coll["Keys"]) != "[lead contact]" || int(values[0].(float64)) != truth.Tables["lead"].Count || int(values[1].(float64)) != truth.Tables["contact"].Count {
		t.Fatalf("got %s, truth lead %d contact %d", r.raw, truth.Tables["lead"].Count, truth.Tables["contact"].Count)
	}
	if r := get(t, s, tok, s.URL()+"/api/data/v9.2/RetrieveTotalRecordCount(EntityNames=['nosuch'])", ""); r.status != 404 {
		t.Fatalf("unknown table: status %d", r.status)
	}
}

// TestAddColumnEndpoint: POST /_sim/columns adds a column the metadata
// and the records show from then on; a bad request says why.
func TestAddColumnEndpoint(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Seed: 4, Scale: 100})
	post := func(q string) int {
		resp, err := s.Client().Post(s.URL()+"/_sim/columns?"+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("table=lead&name=new_rating&type=Integer"); code != 204 {
		t.Fatalf("add column: status %d", code)
	}
	recs := s.Records("lead")
	if _, ok := recs[0]["new_rating"]; !ok {
		t.Fatalf("records have no new_rating: %v", recs[0])
	}
	if code := post("table=nosuch&name=x&type=Integer"); code != 400 {
		t.Fatalf("unknown table: status %d", code)
	}
}
